import random
from datetime import date
from pathlib import Path

import pytest

from tasks.common.errors import LakeError
from tasks.lake import open_lake
from tasks.lake.listing import (
    is_lake_file,
    list_log_files,
    list_logs,
    list_songs,
    log_file_day,
    require_log_files,
)
from tasks.lake.reading import read_batches
from tests.helpers import write_log


def test_editor_droppings_and_non_json_files_are_skipped_and_listed(tmp_path: Path) -> None:
    write_log(tmp_path, "2018-11-01", ["{}"])
    (tmp_path / "log_data" / ".ipynb_checkpoints").mkdir()
    write_log(tmp_path / "log_data" / ".ipynb_checkpoints", "2018-11-01", ["{}"])
    (tmp_path / "log_data" / "2018" / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "log_data" / "2018" / "notes.txt").write_text("hello")
    listing = list_logs(open_lake(str(tmp_path)))
    assert [f.key for f in listing.files] == ["log_data/2018/11/2018-11-01-events.json"]
    assert sorted(f.key for f in listing.skipped) == [
        "log_data/.ipynb_checkpoints/log_data/2018/11/2018-11-01-events.json",
        "log_data/2018/.DS_Store",
        "log_data/2018/notes.txt",
    ]


@pytest.mark.parametrize(
    ("key", "lake_file"),
    [
        ("log_data/2018/11/2018-11-01-events.json", True),
        ("log_data/2018/11/2018-11-01-events.JSON", True),
        ("log_data/2018/11/2018-11-01-events.jsonl", True),
        ("log_data/2018/11/2018-11-01-events.ndjson", True),
        ("log_data/2018/11/2018-11-01-events.json.gz", True),
        ("log_data/2018/11/2018-11-01-events.json.bz2", True),
        ("log_data/2018/11/2018-11-01-events.json.zst", True),
        ("log_data/2018/11/15/03/sparkify-stream-1-2018-11-15-03-10-00-0a1b2c3d", True),
        ("log_data/year=2018/month=11/day=15/part-00000-0a1b2c3d-c000", True),
        ("log_data/year=2018/month=11/day=15/part-00000-0a1b2c3d-c000.json", True),
        ("log_data/year=2018/month=11/day=15/_SUCCESS", False),
        ("log_data/year=2018/month=11/day=15/_committed_123", False),
        ("log_data/year=2018/month=11/day=15/.part-00000-0a1b2c3d-c000.json.crc", False),
        ("log_data/_temporary/0/part-00000.json", False),
        ("log_data/_spark_metadata/0", False),
        ("log_data/2018/11/README.txt", False),
        ("log_data/2018/11/README", False),
        ("log_data/2018/11/notes.md", False),
        ("log_data/2018/11/events.csv", False),
        ("log_data/2018/11/.DS_Store", False),
        ("log_data/2018/11/.ipynb_checkpoints/2018-11-01-events-checkpoint.json", False),
        ("song_data/__MACOSX/A/._TRA.json", False),
    ],
)
def test_which_objects_are_lake_files(key: str, lake_file: bool) -> None:
    assert is_lake_file(key) is lake_file


@pytest.mark.parametrize(
    ("key", "day"),
    [
        ("log_data/2018/11/2018-11-01-events.json", date(2018, 11, 1)),
        ("log_data/2018-11-01-events.json", date(2018, 11, 1)),
        ("log_data/year=2018/month=11/day=15/part-00000-0a1b-c000.json", date(2018, 11, 15)),
        ("log_data/year=2018/month=1/day=5/part-00000", date(2018, 1, 5)),
        ("log_data/dt=2018-11-07/events.json.gz", date(2018, 11, 7)),
        ("log_data/2018-11-07/events.json", date(2018, 11, 7)),
        ("log_data/event_date=20181107/part-00000.json", date(2018, 11, 7)),
        ("log_data/2018/11/15/03/sparkify-stream-1-0a1b2c3d", date(2018, 11, 15)),
        ("log_data/2018/11/events.json", None),
        ("log_data/2018/13/45/events", None),  # not a date
        ("log_data/2018/11/2018-02-30-events.json", None),
    ],
)
def test_a_log_file_day_comes_from_its_key(key: str, day: date | None) -> None:
    assert log_file_day(key) == day


def test_a_log_file_belongs_to_the_day_its_key_carries_in_both_modes(tmp_path: Path) -> None:
    write_log(tmp_path, "2018-11-03", ["{}"])
    part2 = write_log(tmp_path, "2018-11-03", ["{}"]).with_name("2018-11-03-events-part2.JSON")
    part2.write_text("{}")
    hive = tmp_path / "log_data" / "year=2018" / "month=11" / "day=03" / "part-00000"
    hive.parent.mkdir(parents=True)
    hive.write_text("{}")
    lake = open_lake(str(tmp_path))
    day = [f.key for f in list_log_files(lake, date(2018, 11, 3))]
    assert day == [
        "log_data/2018/11/2018-11-03-events-part2.JSON",
        "log_data/2018/11/2018-11-03-events.json",
        "log_data/year=2018/month=11/day=03/part-00000",
    ]
    assert [f.key for f in list_log_files(lake)] == day


def test_a_log_file_whose_day_cannot_be_told_fails_the_run_naming_it(tmp_path: Path) -> None:
    write_log(tmp_path, "2018-11-03", ["{}"])
    for name in ("events.json", "more-events.json"):
        (tmp_path / "log_data" / "2018" / "11" / name).write_text("{}")
    lake = open_lake(str(tmp_path))
    for day in (None, date(2018, 11, 3)):  # a daily run would never load it: it fails too
        with pytest.raises(LakeError, match=r"^log file log_data/2018/11/events.json \(and 1 more"):
            list_log_files(lake, day)


def test_a_day_selects_only_its_partition(tmp_path: Path) -> None:
    for day in ("2018-11-01", "2018-11-02", "2018-12-01"):
        write_log(tmp_path, day, ["{}"])
    keys = [f.key for f in list_log_files(open_lake(str(tmp_path)), date(2018, 11, 2))]
    assert keys == ["log_data/2018/11/2018-11-02-events.json"]


def test_missing_lake_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match=r"^lake directory .*nowhere does not exist$"):
        open_lake(str(tmp_path / "nowhere"))


def test_empty_lake_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(LakeError, match=r"^lake .* has no log files under log_data/$"):
        require_log_files(open_lake(str(tmp_path)))
    write_log(tmp_path, "2018-11-01", ["{}"])
    with pytest.raises(LakeError, match="has no log files for 2018-11-05 under log_data/"):
        require_log_files(open_lake(str(tmp_path)), date(2018, 11, 5))


def test_files_that_cannot_be_decoded_come_back_with_their_error(tmp_path: Path) -> None:
    good = write_log(tmp_path, "2018-11-01", ['{"a": "é"}'])
    bad = write_log(tmp_path, "2018-11-02", ["x"])
    bad.write_bytes(b'{"a": "\xff"}\n')
    bom = write_log(tmp_path, "2018-11-03", ["{}"])
    bom.write_bytes(b"\xef\xbb\xbf{}\n")
    files = list_log_files(open_lake(str(tmp_path)))
    lake = open_lake(str(tmp_path))
    rows = [row for batch in read_batches(lake, files) for row in batch.content.to_pylist()]
    by_key = {row["source_file"]: row for row in rows}
    assert by_key[good.relative_to(tmp_path).as_posix()]["read_error"] is None
    assert by_key[bad.relative_to(tmp_path).as_posix()]["read_error"] == (
        "unreadable file: not UTF-8: byte 0xff at offset 7"
    )
    assert by_key[bom.relative_to(tmp_path).as_posix()]["content"] == "{}\n"


def test_batches_are_bounded_and_cover_every_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("tasks.lake.reading.BATCH_FILES", 3)
    for day in range(1, 11):
        write_log(tmp_path, f"2018-11-{day:02d}", ["{}"])
    lake = open_lake(str(tmp_path))
    batches = list(read_batches(lake, list_log_files(lake)))
    assert [b.content.num_rows for b in batches] == [3, 3, 3, 1]
    typed = list(read_batches(lake, list_log_files(lake), by_line=True, fast_kind="events"))
    assert [(b.content.num_rows, len(b.typed)) for b in typed] == [(0, 3), (0, 3), (0, 3), (0, 1)]


def test_by_line_only_the_undecodable_line_is_an_error(tmp_path: Path) -> None:
    path = write_log(tmp_path, "2018-11-01", ["x"])
    path.write_bytes(b'{"a": 1}\r\n{"b": "\xe9"}\r{"c": 3}\n')
    lake = open_lake(str(tmp_path))
    rows = _content_rows(lake)
    assert [(r["line_number"], r["read_error"]) for r in rows] == [
        (None, None),
        (2, "not UTF-8: byte 0xe9 at offset 7"),
    ]
    assert rows[0]["content"] == '{"a": 1}\n\n{"c": 3}\n'


def test_a_large_log_file_comes_in_pieces_that_keep_line_numbers(tmp_path, monkeypatch) -> None:
    import tasks.lake.reading as lake_module

    monkeypatch.setattr(lake_module, "PIECE_BYTES", 64)
    lines = [f'{{"n": {i}, "pad": "{"x" * (i % 7)}"}}' for i in range(40)]
    path = tmp_path / "log_data" / "2018" / "11" / "2018-11-01-events.json"
    path.parent.mkdir(parents=True)
    text = (
        "\r\n".join(lines[:10])
        + "\r"
        + "\n".join(lines[10:30])
        + "\n\ufeff"
        + "\n".join(lines[30:])
    )
    path.write_bytes(text.encode("utf-8"))
    lake = open_lake(str(tmp_path))
    rows = [row for batch in read_batches(lake, list_log_files(lake), by_line=True)
            for row in batch.content.to_pylist()]  # fmt: skip
    assert len(rows) > 5
    numbered = {}
    for row in rows:
        for offset, line in enumerate(
            row["content"].replace("\r\n", "\n").replace("\r", "\n").split("\n")
        ):
            if line:
                numbered[row["first_line"] + offset] = line.lstrip("\ufeff")
    assert numbered == {n + 1: line for n, line in enumerate(lines)}


@pytest.mark.parametrize("codec", ["gzip", "gzip under a .json name", "bzip2", "zstd"])
def test_compressed_objects_are_read_by_their_magic_bytes(tmp_path: Path, codec: str) -> None:
    import bz2
    import gzip

    import zstandard

    text = b'{"a": 1}\n{"b": 2}\n'
    packed = {
        "gzip": (gzip.compress(text[:9]) + gzip.compress(text[9:]), ".json.gz"),  # 2 members
        "gzip under a .json name": (gzip.compress(text), ".json"),
        "bzip2": (bz2.compress(text), ".json.bz2"),
        "zstd": (zstandard.ZstdCompressor().compress(text), ".json.zst"),
    }
    data, suffix = packed[codec]
    path = tmp_path / "log_data" / "2018" / "11" / f"2018-11-01-events{suffix}"
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    lake = open_lake(str(tmp_path))
    rows = _content_rows(lake)
    assert [(r["content"], r["read_error"]) for r in rows] == [(text.decode(), None)]


def test_a_corrupt_compressed_object_is_an_unreadable_file(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "log_data" / "2018" / "11" / "2018-11-01-events.json.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b'{"a": 1}\n' * 100)[:-30])
    lake = open_lake(str(tmp_path))
    rows = _content_rows(lake)
    assert len(rows) == 1 and rows[0]["content"] is None
    assert rows[0]["read_error"].startswith("unreadable file: corrupt compressed data (")


@pytest.mark.parametrize(
    ("text", "records"),
    [
        ('{"a":1}\n{"b":2}\n', [(1, '{"a":1}'), (2, '{"b":2}')]),
        ('{"a":1}{"b":2}', [(1, '{"a":1}'), (1, '{"b":2}')]),  # back to back (Firehose)
        ('{\n  "a": 1\n}\n\n{\n  "b": 2\n}', [(1, '{\n  "a": 1\n}'), (5, '{\n  "b": 2\n}')]),
        ('[{"a":1}, {"b":2}]', [(1, '[{"a":1}, {"b":2}]')]),  # an array is one value
        ('{"a": 1\n{"b":2}\n', [(1, '{"a": 1'), (2, '{"b":2}')]),  # a cut-off line, then a good one
        ('{"a":"x\n{"b":2}', [(1, '{"a":"x'), (2, '{"b":2}')]),  # cut inside a string
        ('{"a":1,"b":\n{"c":1}\n{"d":1}', [(1, '{"a":1,"b":'), (2, '{"c":1}'), (3, '{"d":1}')]),
        ('{\n  "a": 1,\n}\n{"b":2}', [(1, '{\n  "a": 1,\n}'), (4, '{"b":2}')]),
        ('{"a": 1,\n "b": 2\n', [(1, '{"a": 1,\n "b": 2')]),  # cut off at the end of the file
        ('x y\n{"a":1}\r\n{"b":2}\r', [(1, "x y"), (2, '{"a":1}'), (3, '{"b":2}')]),
        ('\ufeff{"a":1}\n\ufeff{"b":2}', [(1, '{"a":1}'), (2, '{"b":2}')]),  # BOMs of joined files
        ("", []),
        ("  \n\t\n", []),
    ],
)
def test_a_text_is_cut_into_the_json_values_it_holds(text: str, records: list) -> None:
    from tasks.lake.json_stream import split_values

    assert split_values(text) == records
    assert split_values(text, first_line=10) == [(line + 9, value) for line, value in records]


def _song_key_of(byte_count: int) -> str:
    """A song key of exactly `byte_count` bytes of UTF-8, in folders of two-byte characters (a
    key's length is its bytes, not its characters), each under the file system's 255 bytes."""
    key = "song_data"
    while byte_count - len(key.encode()) > 260:
        key += "/" + "é" * 100  # 201 bytes with the slash
    tail = byte_count - len(key.encode()) - len("/.json")
    return f"{key}/{'s' * tail}.json"


@pytest.mark.parametrize(("size", "fits"), [(1024, True), (1025, False)])
def test_a_key_longer_than_source_file_fails_the_run_naming_it(
    tmp_path: Path, size: int, fits: bool
) -> None:
    key = _song_key_of(size)
    assert len(key.encode()) == size
    (tmp_path / key).parent.mkdir(parents=True)
    (tmp_path / key).write_text("{}")
    lake = open_lake(str(tmp_path))
    if fits:
        assert [f.key for f in list_songs(lake).files] == [key]
    else:
        with pytest.raises(LakeError, match=r"has a key of over 1,024 bytes"):
            list_songs(lake)


def _content_rows(lake) -> list[dict]:
    """The rows the per-record path would parse, reading log files line by line."""
    batches = read_batches(lake, list_log_files(lake), by_line=True)
    return [row for batch in batches for row in batch.content.to_pylist()]


@pytest.mark.parametrize("size", [0, 1, 250, 65_535, 65_536, 65_537, 3_000_000])
def test_a_local_file_is_read_whole_at_every_size(tmp_path: Path, size: int) -> None:
    """The local lake reads a small file in one call and a larger one through a file object:
    every byte comes back on either side of the boundary."""
    data = random.Random(size).randbytes(size)
    (tmp_path / "song_data").mkdir()
    (tmp_path / "song_data" / "x.json").write_bytes(data)
    assert open_lake(str(tmp_path)).read("song_data/x.json") == data
