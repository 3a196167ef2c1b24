"""Cut a text into the JSON values it holds, as Redshift COPY reads a JSON file.

COPY reads a JSON file as a stream of root-level objects or arrays separated by nothing but
white space ("Data format parameters", JSON data file: https://docs.aws.amazon.com/redshift/
latest/dg/copy-parameters-data-format.html): one per line, several back to back on one line
(Amazon Data Firehose writes them so), or one pretty-printed over many lines. Staging reads a
file line by line first, which is exact and fast for the common one-object-per-line file, and
hands a file (or an 8 MB piece of one) here only when a line of it is not a whole JSON value.

Each value comes back with the line it starts on. A stretch that is not valid JSON is returned
as one malformed record (the line it starts on, or up to where the next record starts on a new
line) and reading resumes after it, so one bad line never swallows its neighbours. Values are
only cut here; whether a record is valid is decided once, in the warehouse (staging SQL).
"""

from __future__ import annotations

import json
import re

_DECODER = json.JSONDecoder()
_BLANK = re.compile(r"[ \t\n\r]*")


def normalise_lines(text: str) -> str:
    """Line ends as staging counts them (CRLF, CR and LF each end one line); a BOM opening a
    line (files concatenated) is dropped."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\ufeff" in text:
        text = text.removeprefix("\ufeff").replace("\n\ufeff", "\n")
    return text


def split_values(text: str, first_line: int = 1) -> list[tuple[int, str]]:
    """The (line, text) of every JSON value or malformed stretch in `text`, in order."""
    text = normalise_lines(text)
    records: list[tuple[int, str]] = []
    pos, line, counted = 0, first_line, 0
    end = len(text)
    while True:
        pos = _BLANK.match(text, pos).end()  # type: ignore[union-attr]  # \s* always matches
        if pos >= end:
            return records
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            _, stop = _DECODER.raw_decode(text, pos)
            records.append((line, text[pos:stop]))
        except json.JSONDecodeError as exc:
            stop = _malformed_end(text, pos, exc.pos)
            records.append((line, text[pos:stop].rstrip(" \t\n")))  # as its lines, no line end
        pos = stop


def _malformed_end(text: str, start: int, error: int) -> int:
    """Where a malformed record that starts at `start` ends: the end of its first line; or, if
    the decoder read on past it, just before the first later line that opens an object at its
    start (a cut-off line followed by good ones), else the end of the line where it failed."""
    first_end = text.find("\n", start)
    if first_end < 0 or error <= first_end:
        return len(text) if first_end < 0 else first_end
    next_object = text.find("\n{", first_end, error + 1)
    if next_object >= 0:
        return next_object
    line_start = text.rfind("\n", 0, error) + 1
    if text[line_start:error].strip(" \t") == "" and text.startswith("{", error):
        return line_start - 1
    line_end = text.find("\n", error)
    return len(text) if line_end < 0 else line_end
