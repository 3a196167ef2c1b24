"""The reading side of song staging, piece by piece: what each choice in tasks/lake/local.py,
tasks/lake/reading.py and tasks/records/typed.py costs, in one process, best of 3.

    .venv/bin/python bench/parse_pieces.py --songs 20000

- Arrow's JSON reader with and without its own threads, on a run of 64 song files and on an
  8 MB piece of a log file;
- `typed.parse_files` on the same 20,000 song files cut into runs of 64 to 4,096;
- `LocalLake.read` against an unbuffered file object, over every song file;
- `LocalLake.list` of song_data/.
The lake is generated once into bench/.lakes/ (the songs' lake of `make bench` if present).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pa_json

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.lake.local import LocalLake  # noqa: E402
from tasks.records import typed  # noqa: E402
from tasks.sample_lake import LakeSpec, generate_lake  # noqa: E402


def best(fn: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def arrow_threads(kind: str, raw: bytes, calls: int) -> tuple[float, float]:
    """Seconds per call of read_json on `raw`, with Arrow's threads and without."""
    options = typed._options(kind)
    block = typed.MAX_RECORD_BYTES + 1024
    per_call = []
    for use_threads in (True, False):
        read = pa_json.ReadOptions(block_size=block, use_threads=use_threads)

        def parse(read: pa_json.ReadOptions = read) -> None:
            for _ in range(calls):
                pa_json.read_json(pa.py_buffer(raw), parse_options=options, read_options=read)

        per_call.append(best(parse) / calls)
    return per_call[0], per_call[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--songs", type=int, default=20_000)
    args = parser.parse_args()
    lake_dir = ROOT / "bench" / ".lakes" / f"e1000000-s{args.songs}-d30-u1000"
    if not (lake_dir / "song_data").is_dir():
        lake_dir = ROOT / "bench" / ".lakes" / f"songs-{args.songs}"
        if not (lake_dir / "song_data").is_dir():
            generate_lake(lake_dir, LakeSpec(songs=args.songs, events=20_000, days=2))
    lake = LocalLake(str(lake_dir))
    files = lake.list("song_data")
    songs = [(f.key, lake.read(f.key)) for f in files]
    print(f"lake {lake_dir.name}: {len(songs):,} song files")

    run = b"\n".join(raw.rstrip() for _, raw in songs[:64])
    with_threads, without = arrow_threads("songs", run, 300)
    print(f"read_json, 64 song files: {with_threads * 1e3:.2f} ms with Arrow's threads, "
          f"{without * 1e3:.2f} ms without")  # fmt: skip
    log = sorted((lake_dir / "log_data").rglob("*.json"))[0].read_bytes()[: 8 * 1024 * 1024]
    log = log[: log.rindex(b"\n") + 1]
    with_threads, without = arrow_threads("events", log, 3)
    print(f"read_json, {len(log) / 1e6:.1f} MB log piece: {with_threads:.4f} s with Arrow's "
          f"threads, {without:.4f} s without")  # fmt: skip

    for size in (64, 256, 1024, 4096):
        seconds = best(
            lambda size=size: [
                typed.parse_files("songs", songs[i : i + size]) for i in range(0, len(songs), size)
            ]
        )
        print(f"parse_files, runs of {size:>5}: {seconds:.3f} s")

    paths = [os.path.join(lake_dir, f.key) for f in files]

    def file_object() -> None:
        for path in paths:
            with open(path, "rb", buffering=0) as file:
                file.read()

    local_read = best(lambda: [lake.read(f.key) for f in files])
    print(f"read every song file: LocalLake.read {local_read:.3f} s, "
          f"unbuffered file object {best(file_object):.3f} s")  # fmt: skip
    print(f"LocalLake.list song_data/: {best(lambda: lake.list('song_data')):.3f} s")


if __name__ == "__main__":
    main()
