"""The pipeline benchmark: the whole flow against its baselines, on one generated lake.

    .venv/bin/python bench/pipeline.py --events 1000000 --songs 20000 --days 30   # make bench
    .venv/bin/python bench/pipeline.py --events 100000 --songs 2000 --days 30     # make bench-quick

One script, one lake, one machine: it starts a Prefect server on 127.0.0.1, then measures

- the I/O floors (`cat` of every file; DuckDB parsing one concatenated NDJSON file per kind),
- the naive set-based pipeline (DuckDB `read_json` over the globs, then the same transforms),
- the tutorials' row-by-row loop (on a subset, scaled by record count),
- this flow, full load, as `python -m flows.sparkify_etl` would run it but against the running
  server (its own per-stage seconds, wall time, peak RSS of the process),
- an incremental daily run: the lake without its last day loaded in full, then that day alone,
- that daily run as a one-off command (`python -m flows.sparkify_etl`, no server configured, so
  a temporary one serves it), timed from start to exit, twice in one Prefect home (the first
  also creates the home's database),

checks that the flow's tables equal the naive path's and that full == 29 days + 1 daily run,
prints everything and rewrites this lake size's section of bench/RESULTS.md. Compare the
ratios across machines, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from bench import baselines  # noqa: E402
from tasks.sample_lake import LakeSpec, generate_lake  # noqa: E402

LAKES = BENCH / ".lakes"
RESULTS = BENCH / "RESULTS.md"
START = date(2018, 11, 1)


def lake_for(spec: LakeSpec) -> Path:
    """The generated lake for `spec`, cached under bench/.lakes/ (generation is not timed)."""
    lake = LAKES / f"e{spec.events}-s{spec.songs}-d{spec.days}-u{spec.users}"
    if not (lake / ".complete").exists():
        shutil.rmtree(lake, ignore_errors=True)
        print(f"generating {lake} ...", flush=True)
        generate_lake(lake, spec)
        (lake / ".complete").touch()
    return lake


def without_last_day(lake: Path, days: int, scratch: Path) -> tuple[Path, date]:
    """A hard-linked copy of the lake minus its last day's log file (for the daily run)."""
    last = START + timedelta(days=days - 1)
    copy = scratch / "lake-minus-last-day"
    shutil.copytree(lake, copy, copy_function=os.link)
    (copy / "log_data" / f"{last:%Y}" / f"{last:%m}" / f"{last:%Y-%m-%d}-events.json").unlink()
    return copy, last


@contextmanager
def prefect_server(scratch: Path):
    """A Prefect server in its own home on a free loopback port, as `make server` runs one."""
    from tests.s3_server import free_port

    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(scratch / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }
    prefect = str(Path(sys.executable).with_name("prefect"))
    log = (scratch / "server.log").open("w")
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"Prefect server did not start; see {scratch / 'server.log'}")
        yield env
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


def run_flow(env: dict[str, str], lake: Path, warehouse: Path, day: date | None = None) -> dict:
    """One flow run in its own process against the running server: its stage seconds, wall
    seconds (the flow call, i.e. without interpreter and import start-up) and peak RSS."""
    args = [sys.executable, str(BENCH / "flow_run.py"), str(lake), str(warehouse)]
    if day:
        args.append(day.isoformat())
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True, cwd=REPO)
    out = child.stdout.read()
    _, status, _ = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"flow run failed ({child.returncode}): {out[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])  # peak RSS: the run's own VmHWM


def run_cli(env: dict[str, str], lake: Path, warehouse: Path, day: date) -> dict:
    """One run of the command line, `python -m flows.sparkify_etl`: its wall seconds from the
    parent, start to exit (interpreter, imports, Prefect's server and the run), and the stage
    seconds its summary prints."""
    args = [sys.executable, "-m", "flows.sparkify_etl", "--source", str(lake),
            "--warehouse", str(warehouse), "--date", day.isoformat()]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"one-off run failed ({done.returncode}): {done.stderr[-2000:]}")
    stages = {}
    for line in done.stdout.split("seconds per stage", 1)[1].splitlines():
        name, _, seconds = line.strip().rpartition(" ")
        if name:
            stages[name.strip()] = float(seconds)
    return {"wall": wall, "stages": stages}


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    import duckdb
    import prefect

    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GB RAM, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, Prefect {prefect.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--songs", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--row-by-row-events", type=int, default=5_000)
    parser.add_argument("--row-by-row-songs", type=int, default=500)
    parser.add_argument("--skip-naive", action="store_true", help="e.g. for 10M events")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    spec = LakeSpec(events=args.events, songs=args.songs, days=args.days, users=args.users)
    lake = lake_for(spec)
    command = " ".join(["bench/pipeline.py", *sys.argv[1:]])
    lines = [f"Machine: {machine()}", f"Lake: {lake.name} ({_size(lake)})", ""]

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    with tempfile.TemporaryDirectory(dir=LAKES) as tmp:
        scratch = Path(tmp)
        print("\n".join(lines), flush=True)
        floor_cat = baselines.cat_floor(lake)
        floor_cat_songs = baselines.cat_floor(lake / "song_data")
        floor_concat = baselines.concatenated_floor(lake, scratch)
        say(f"cat floor (all files)            {floor_cat:8.2f} s")
        say(f"cat floor (song files)           {floor_cat_songs:8.2f} s")
        say(f"concatenated NDJSON, events      {floor_concat['events']:8.2f} s")
        say(f"concatenated NDJSON, songs       {floor_concat['songs']:8.2f} s")
        naive = {}
        if not args.skip_naive:
            naive = baselines.naive(lake, scratch / "naive.duckdb")
            say(f"naive read_json, events          {naive['events']:8.2f} s")
            say(f"naive read_json, songs           {naive['songs']:8.2f} s")
            say(f"naive transforms                 {naive['transforms']:8.2f} s")
        rbr_scaled, rbr_songs, rbr_events, rbr_seconds = _row_by_row(
            lake, args.row_by_row_songs, args.row_by_row_events, spec.events
        )
        say(
            f"row by row ({rbr_songs} songs + {rbr_events:,} events) {rbr_seconds:8.2f} s"
            f" -> scaled to the lake: {rbr_scaled:,.0f} s"
        )

        songs_alone = _stage_alone("songs", lake, scratch / "songs.duckdb", 3)
        say(f"songs staging alone (task, best of 3)   {songs_alone:8.2f} s")
        typed_json = baselines.typed_read_json(lake, scratch / "typed.duckdb")
        events_alone = _stage_alone("events", lake, scratch / "events.duckdb", 1)
        say(f"DuckDB typed read_json of the log files {typed_json:8.2f} s")
        say(f"events staging alone (task)             {events_alone:8.2f} s")
        per_record = every_rule = 0.0
        if not args.skip_naive:
            # the per-record path alone, as every record went before the fast path; and the
            # fast path with every rule rendered, as before the rule guards
            with _switched_off("SPARKIFY_STAGING_FAST_PATH"):
                per_record = _stage_alone("events", lake, scratch / "per-record.duckdb", 1)
            say(f"events staging, per-record path only    {per_record:8.2f} s")
            with _switched_off("SPARKIFY_STAGING_RULE_GUARDS"):
                every_rule = _stage_alone("events", lake, scratch / "every-rule.duckdb", 1)
            say(f"events staging, every rule rendered     {every_rule:8.2f} s")

        with prefect_server(scratch) as env:
            full = run_flow(env, lake, scratch / "full.duckdb")
            partial_lake, last_day = without_last_day(lake, spec.days, scratch)
            run_flow(env, partial_lake, scratch / "daily.duckdb")
            daily = run_flow(env, lake, scratch / "daily.duckdb", last_day)
        # the same daily run as a one-off command (`python -m flows.sparkify_etl`, as `make run`):
        # no server, so a temporary one serves the run. Timed from the parent, start to exit;
        # the first run in a new Prefect home also creates its database, so the second counts
        one_off_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
        one_off_env["PREFECT_HOME"] = str(scratch / "one-off-home")
        first_one_off = run_cli(one_off_env, lake, scratch / "daily.duckdb", last_day)
        one_off = run_cli(one_off_env, lake, scratch / "daily.duckdb", last_day)
        say()
        say(_flow_line("flow, full load", full))
        say(_flow_line(f"flow, daily run ({last_day})", daily))
        full_work = sum(full["stages"].values())
        daily_work = sum(daily["stages"].values())
        built = ("build dimensions", "build fact", "checks", "publish")
        transforms = sum(full["stages"][s] for s in built)
        concat_plus = floor_concat["events"] + floor_concat["songs"] + transforms
        say()
        say("ratios (same run)")
        say(f"  songs staging alone / cat of song files {songs_alone / floor_cat_songs:6.2f}")
        say(f"  events staging / DuckDB typed read_json {events_alone / typed_json:6.2f}")
        if per_record:
            say(f"  per-record path / events staging        {per_record / events_alone:6.2f}")
        if every_rule:
            say(f"  every rule rendered / events staging    {every_rule / events_alone:6.2f}")
        if naive:
            naive_total = sum(naive.values())
            say(f"  naive pipeline / flow full load         {naive_total / full_work:6.2f}")
            glob_ratio = naive["songs"] / floor_cat_songs
            say(f"  naive songs glob / cat of song files     {glob_ratio:6.2f}")
        say(f"  flow / (concatenated floor + transforms) {full_work / concat_plus:6.2f}")
        say(f"  row by row (scaled) / flow               {rbr_scaled / full_work:6.0f}")
        say(f"  daily run / full load                    {daily_work / full_work:6.3f}")
        say(f"  orchestration overhead per run           {full['wall'] - full_work:6.2f} s (full), "
            f"{daily['wall'] - daily_work:.2f} s (daily)")  # fmt: skip
        one_off_overhead = one_off["wall"] - sum(one_off["stages"].values())
        first_overhead = first_one_off["wall"] - sum(first_one_off["stages"].values())
        say(f"  one-off command's overhead (process wall - stages, temporary server) "
            f"{one_off_overhead:.2f} s; in a new Prefect home {first_overhead:.2f} s")  # fmt: skip
        say(f"  peak RSS                                 {full['peak_rss_mb']:6.0f} MB (full), "
            f"{daily['peak_rss_mb']:.0f} MB (daily)")  # fmt: skip
        say()
        if naive:
            diff = baselines.differing_rows(scratch / "full.duckdb", scratch / "naive.duckdb")
            say(f"identical to the naive path: {_identical(diff)}")
        diff = baselines.differing_rows(scratch / "full.duckdb", scratch / "daily.duckdb")
        say(f"full load identical to {spec.days - 1} days + one daily run: {_identical(diff)}")
    if not args.no_write:
        _write_results(lake.name, command, lines)


@contextmanager
def _switched_off(variable: str):
    """A staging switch set to 0 for the block (each is read per run, from the environment)."""
    os.environ[variable] = "0"
    try:
        yield
    finally:
        del os.environ[variable]


def _stage_alone(kind: str, lake: Path, warehouse: Path, repeats: int) -> float:
    """One staging task by itself: in the flow the two run side by side and take turns in the
    warehouse, so their wall times there say little about each alone."""
    from tasks.stage import stage_events, stage_songs
    from tests.factories import prepared_run

    task = stage_events if kind == "events" else stage_songs
    best = float("inf")
    for attempt in range(repeats):  # each on a fresh warehouse; the floors are best of 3 too
        run = prepared_run(lake, warehouse.with_name(f"{warehouse.stem}-{attempt}.duckdb"))
        best = min(best, baselines.timed(lambda run=run: task.fn(run)))
    return best


def _row_by_row(
    lake: Path, songs: int, events: int, events_total: int
) -> tuple[float, int, int, float]:
    """The loop's song half and event half timed apart, each scaled by its record count."""
    songs_only, songs_done, _ = baselines.row_by_row(lake, 0, songs)
    both, _, events_done = baselines.row_by_row(lake, events, songs)
    songs_total = sum(1 for _ in (lake / "song_data").rglob("*.json"))
    scaled = songs_only * songs_total / max(songs_done, 1)
    scaled += max(both - songs_only, 0.0) * events_total / max(events_done, 1)
    return scaled, songs_done, events_done, both


def _flow_line(label: str, result: dict) -> str:
    stages = ", ".join(f"{k} {v:.2f}" for k, v in result["stages"].items())
    return (
        f"{label}: {sum(result['stages'].values()):.2f} s in stages ({stages}); wall "
        f"{result['wall']:.2f} s; peak RSS {result['peak_rss_mb']:.0f} MB"
    )


def _identical(diff: dict[str, int]) -> str:
    if not any(diff.values()):
        return "yes (all five tables, row for row)"
    return "NO: " + ", ".join(f"{t} {n} rows differ" for t, n in diff.items() if n)


def _size(lake: Path) -> str:
    total = sum(p.stat().st_size for p in lake.rglob("*") if p.is_file())
    return f"{total / 1e6:,.0f} MB"


def _write_results(name: str, command: str, lines: list[str]) -> None:
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = "\n".join(
        [begin, f"`.venv/bin/python {command}` ({date.today()}):", "", "```", *lines, "```", end]
    )
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
