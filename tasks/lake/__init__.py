"""The lake: a directory or an S3 prefix laid out like Sparkify's bucket, listed and read.

    song_data/A/B/C/TRABC….json               song objects (one per file, as a rule)
    log_data/YYYY/MM/YYYY-MM-DD-events.json   events (one per line, as a rule)

`files` holds the value types, `local` and `s3` the two backends, `listing` which objects are
lake files and which day a log file holds, `reading` the streamed, bounded-memory reads.
"""

from __future__ import annotations

from tasks.lake.files import Lake, LakeSource
from tasks.lake.local import LocalLake


def open_lake(source: LakeSource | str) -> Lake:
    """The lake a source names; a one-line `LakeError` if it cannot be used."""
    if isinstance(source, str):
        source = LakeSource(uri=source)
    if source.is_s3:
        from tasks.lake.s3 import S3Lake  # boto3 is only imported for S3 lakes

        return S3Lake.from_source(source)
    return LocalLake(source.uri)
