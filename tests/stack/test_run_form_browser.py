"""The deployment run form in the Prefect UI, filled in and submitted in headless Chromium as a
person does it (tests/browser.py): an impossible date is refused on the form and no run is
created; a good one creates the run the form describes; and what happens when the person
unticks "Validate parameters". The API's own refusal is tested in test_deployments_unattended.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from tests.browser import Page, launch
from tests.prefect_stack import PrefectStack, prefect_stack
from tests.tiers import find_chromium

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (make test-deps)"),
]
FULL_REFRESH = "sparkify-etl/full-refresh"
DAILY = "sparkify-daily/daily"
BAD_DAY = "2018-13-45"
REFUSAL = f"'{BAD_DAY}' is not valid under any of the given schemas"  # the server's words
ERRORS = ".schema-form-property-errors"  # where the form lists what it refused, field by field


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectStack]:
    with prefect_stack(tmp_path_factory.mktemp("prefect-home")) as running:
        yield running


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    """A fresh browser per test; its last screen is left in tmp_path/page.png to look at."""
    assert CHROMIUM is not None
    with launch(CHROMIUM, tmp_path) as opened:
        try:
            yield opened
        finally:
            with suppress(Exception):  # a browser already gone leaves no screen, and no new error
                opened.screenshot(tmp_path / "page.png")


def runs_of(stack: PrefectStack, deployment: str) -> list[dict]:
    found = stack.api("GET", f"/deployments/name/{deployment}")
    return stack.api("POST", "/flow_runs/filter",
                     {"flow_runs": {"deployment_id": {"any_": [found["id"]]}}})  # fmt: skip


def submit_run_form(
    page: Page, stack: PrefectStack, deployment: str, parameters: dict, validate: bool = True
) -> None:
    """Open the deployment's Run page, switch Parameters to JSON input (the form's date picker
    cannot hold an impossible date; the JSON editor takes what a person types), replace the
    editor's text with `parameters`, untick "Validate parameters" unless `validate`, Submit."""
    found = stack.api("GET", f"/deployments/name/{deployment}")
    page.navigate(f"{stack.api_url.removesuffix('/api')}/deployments/deployment/{found['id']}/run")
    page.wait_for_text("Parameters")
    page.click(".flow-run-create-form-v2__header button")  # the ⋮ beside "Parameters"
    page.wait_for_text("Use JSON input")
    page.click(text="Use JSON input")
    editor = ".schema-form-property-kind-json textarea"
    page.wait_for(f"!!document.querySelector({json.dumps(editor)})", what="the JSON editor")
    page.click(editor)
    page.press("a", "KeyA", 65, modifiers=2)  # Ctrl+A, then type over the defaults
    typed = json.dumps(parameters, indent=2)
    page.type_text(typed)
    page.wait_for(f"document.querySelector({json.dumps(editor)}).value === {json.dumps(typed)}",
                  what="the editor to hold what was typed")  # fmt: skip
    if not validate:
        page.click(text="Validate parameters")
        page.wait_for("!document.querySelector('input[type=checkbox]').checked", what="unticked")
    page.click(text="Submit")


@pytest.mark.parametrize("deployment", [FULL_REFRESH, DAILY])
def test_an_impossible_day_typed_into_the_run_form_is_refused(
    stack, page, deployment, small_lake, tmp_path
):
    before = len(runs_of(stack, deployment))
    parameters = {"source": str(small_lake), "warehouse": str(tmp_path / "w.duckdb"),
                  "day": BAD_DAY}  # fmt: skip
    submit_run_form(page, stack, deployment, parameters)
    page.wait_for_text(REFUSAL)
    refused = page.evaluate(f"document.querySelector({json.dumps(ERRORS)}).innerText")
    assert str(refused).split() == ["day", *REFUSAL.split()]  # named field, then why
    assert str(page.evaluate("location.pathname")).endswith("/run")  # still on the form
    # The form shows the refusal only once the server's validation has answered, and it asks
    # for a run only when that answer is clean: so no run exists now, and none appears in the
    # next 3 s (a late request from the page would show here).
    for _ in range(15):
        assert len(runs_of(stack, deployment)) == before
        time.sleep(0.2)
    assert "scheduled to start" not in page.text()
    assert not (tmp_path / "w.duckdb").exists()


def test_a_good_day_typed_into_the_same_form_creates_that_run(stack, page, small_lake, tmp_path):
    """The control: the same hands on the same form do create a run when the date is real."""
    day = min(p.name[:10] for p in (small_lake / "log_data").rglob("*-events.json"))
    before = {run["id"] for run in runs_of(stack, FULL_REFRESH)}
    warehouse = tmp_path / "w.duckdb"
    parameters = {"source": str(small_lake), "warehouse": str(warehouse), "day": day}
    submit_run_form(page, stack, FULL_REFRESH, parameters)
    page.wait_for_text("scheduled to start now")
    assert REFUSAL not in page.text()
    (created,) = [run for run in runs_of(stack, FULL_REFRESH) if run["id"] not in before]
    assert created["parameters"] == parameters  # what was typed, as typed
    stack.assert_completed(created["id"])
    assert warehouse.exists()


def test_with_validate_parameters_unticked_the_run_is_created_and_fails_before_loading(
    stack, page, small_lake, tmp_path
):
    """Unticking "Validate parameters" asks the API to skip the deployment's parameter schema
    (create_flow_run's enforce_parameter_schema: false), so the run IS created; the flow then
    refuses the date when the run starts, before any task, and the warehouse is never opened."""
    before = {run["id"] for run in runs_of(stack, FULL_REFRESH)}
    warehouse = tmp_path / "w.duckdb"
    submit_run_form(page, stack, FULL_REFRESH,
                    {"source": str(small_lake), "warehouse": str(warehouse), "day": BAD_DAY},
                    validate=False)  # fmt: skip
    page.wait_for_text("scheduled to start now")
    (created,) = [run for run in runs_of(stack, FULL_REFRESH) if run["id"] not in before]
    run = stack.wait_final(created["id"])
    message = run["state"]["message"]
    assert run["state_type"] == "FAILED", message
    assert "Validation of flow parameters failed" in message and "day" in message
    assert "month value is outside expected range" in message
    body = {"flow_runs": {"id": {"any_": [created["id"]]}}}
    assert stack.api("POST", "/task_runs/filter", body) == []
    assert not warehouse.exists()
