"""Start a run of a deployment, wait for it, and print how it ended in one line.

    .venv/bin/python -m flows.trigger sparkify-etl/full-refresh
    .venv/bin/python -m flows.trigger sparkify-daily/daily --param day=2018-11-04

Prints the run's id when it is created, then `NAME: Completed` or `NAME: Failed: reason` (the
run's state message). Exit status: 0 Completed, 1 any other final state, 2 when the API refuses
the run (e.g. a parameter that does not fit the deployment's schema). The UI and
`prefect flow-run logs ID` have the details.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from tasks.common.run_log import state_outcome

POLL_SECONDS = 2.0


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; a value that reads as JSON (a number, true, null) is that value, as
    `prefect deployment run --param` reads it; anything else is text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --param takes key=value, not {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def outcome(run: FlowRun) -> str:
    """`NAME: STATE`, and the first line of the state's message unless it Completed."""
    return f"{run.name}: {state_outcome(run.state)}"


def wait_final(client: SyncPrefectClient, run_id: UUID, timeout: float | None) -> FlowRun:
    """The run once it reaches a final state; says once if it waits Late (no worker?)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    said_late = False
    while True:
        run = client.read_flow_run(run_id)
        if run.state and run.state.is_final():
            return run
        if run.state and run.state.name == "Late" and not said_late:
            print("still waiting: the run is Late (is a worker on the pool? make worker)")
            said_late = True
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{run.name}: still {run.state.name if run.state else '?'}")
        time.sleep(POLL_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m flows.trigger",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("deployment", help="FLOW/DEPLOYMENT, e.g. sparkify-etl/full-refresh")
    parser.add_argument("--param", action="append", default=[], help="key=value (repeatable)")
    parser.add_argument("--timeout", type=float, help="stop waiting after this many seconds")
    args = parser.parse_args(argv)
    params = parse_params(args.param)
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(args.deployment)
            run = client.create_flow_run_from_deployment(deployment.id, parameters=params)
        except ObjectNotFound:
            print(f"refused: no deployment {args.deployment!r} (make deploy)", file=sys.stderr)
            return 2
        except PrefectHTTPStatusError as exc:
            detail = exc.response.json().get("detail", exc.response.text)
            print(f"refused: {detail}", file=sys.stderr)
            return 2
        print(f"{args.deployment}: flow run {run.id} created; waiting for it to finish")
        try:
            final = wait_final(client, run.id, args.timeout)
        except (KeyboardInterrupt, TimeoutError) as exc:
            print(f"{exc or 'stopped'}; the run goes on (prefect flow-run cancel {run.id})")
            return 1
    print(outcome(final))
    return 0 if final.state and final.state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())
