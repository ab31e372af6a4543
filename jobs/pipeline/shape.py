"""Rows and columns of JSON and Parquet files without reading them: parser events and the footer."""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import ijson
import pyarrow as pa
import pyarrow.parquet as pq

from .bounds import Limits, LimitError, LoadError

NOT_RECORDS = "JSON must be an array of records (objects) or JSON Lines."
FOOTER_BYTES = 16 * 1024 * 1024  # a Parquet footer larger than this is refused unread
# yajl re-scans a token that spans reads from its start at every read (a 150 MB string: 78 s of CPU
# in 64 KB reads), while ijson holds one read's events at once (about 12 bytes a byte read): 2 MB
# reads keep both small (that string: 3 s; events: 25 MB).
JSON_READ_BYTES = 2 * 1024 * 1024
_OPEN = ("start_map", "start_array")
_CLOSE = ("end_map", "end_array")


class _SecondValue(Exception):
    """A second top-level JSON value: the file is JSON Lines saved with a .json name."""


class _Utf8:
    """A text file in another encoding read as UTF-8 bytes, which is what the JSON parser takes."""

    def __init__(self, path: str | Path, encoding: str):
        self.text = open(path, encoding=encoding)  # utf-8-sig drops the BOM

    def read(self, size: int = -1) -> bytes:
        return self.text.read(size).encode("utf-8")

    def __enter__(self) -> "_Utf8":
        return self

    def __exit__(self, *_exc) -> None:
        self.text.close()


def _utf8(path: str | Path, encoding: str | None) -> BinaryIO | _Utf8:
    return open(path, "rb") if encoding in (None, "utf-8", "ascii") else _Utf8(path, encoding)


def json_shape(path: str | Path, info, limits: Limits) -> tuple[int, list[str]]:
    """Rows and column names of a JSON array of records, of one list of records inside an object
    ({"data": [...]}), or of JSON Lines, from ijson's parser events.

    Streaming, not json.loads with a depth check: a loaded document costs about ten times its size
    (a 48 MB file added 1.5 GiB), while events cost the nesting depth plus one value. Columns are
    the keys of every record, in first-seen order, as pandas makes them. Sets `info.format` to
    "jsonl" when a second top-level value follows the first.
    """
    lines = info.format == "jsonl"
    walk = _Records(limits, lines)
    try:
        with _utf8(path, info.encoding) as fh:
            for event, value in ijson.basic_parse(fh, buf_size=JSON_READ_BYTES, multiple_values=True,
                                                  use_float=True):
                walk.step(event, value)
    except _SecondValue:
        info.format = "jsonl"
        return json_shape(path, info, limits)
    except RecursionError as exc:
        raise limits.too_deep() from exc
    except (ijson.JSONError, UnicodeError, ValueError) as exc:
        if isinstance(exc, LoadError):
            raise
        raise LoadError("The file is not valid JSON (or not in the text encoding it seems to use).") from exc
    if walk.values == 0 or (not lines and walk.lists != 1 and walk.record != 2):
        raise LoadError(NOT_RECORDS)
    return walk.rows, list(walk.keys)


class _Records:
    """json_shape's walk over parser events: where the records are, how many, and their keys."""

    def __init__(self, limits: Limits, lines: bool):
        self.limits, self.lines = limits, lines
        self.rows, self.keys = 0, {}
        self.depth = self.values = self.lists = 0
        self.record = 1 if lines else 0  # nesting depth of the records; 0 not known yet, -1 no more

    def step(self, event: str, value) -> None:
        if event == "map_key":
            if self.depth == self.record and value not in self.keys:
                self.limits.check_name(value)
                self.keys[value] = None
                self.limits.check_columns(len(self.keys), at_least=True)
        elif event in _OPEN:
            self._open(event)
        elif event in _CLOSE:
            if self.depth == 2 and self.record == 3:
                self.record = -1
            self.depth -= 1
        elif self.depth == 0 or self.depth == self.record - 1:
            raise LoadError(NOT_RECORDS)  # a bare value, or a value where a record belongs

    def _open(self, event: str) -> None:
        self.depth += 1
        if self.depth > self.limits.json_depth:
            raise self.limits.too_deep()
        if self.depth == 1:
            self.values += 1
            if self.values > 1 and not self.lines:
                raise _SecondValue
            self.record = self.record if self.lines else 2 if event == "start_array" else 0
        elif self.depth == 2 and self.record in (0, -1) and event == "start_array":
            self.lists += 1  # a list inside the top object: its items are the records
            self.record = 3
        if self.depth == self.record:
            if event != "start_map":
                raise LoadError(NOT_RECORDS)
            self.rows += 1
            self.limits.check_rows(self.rows, at_least=True)


def parquet_shape(path: str | Path, limits: Limits) -> tuple[int, list[str]]:
    """Rows and leaf column names from the footer alone; nothing else of the file is read."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - 8))
        tail = fh.read(8)
    if size < 12 or tail[4:] != b"PAR1":
        raise LoadError("The file is not a valid Parquet file (no footer).")
    footer = int.from_bytes(tail[:4], "little")
    if footer > FOOTER_BYTES:  # decoding a footer costs several times its size
        raise LimitError("too_large_decoded", f"The Parquet footer is {footer / 2**20:,.0f} MB; at most "
                         f"{FOOTER_BYTES // 2**20} MB is read.", footer_bytes=footer, max_footer_bytes=FOOTER_BYTES)
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException) as exc:
        raise LoadError("The file is not a valid Parquet file (unreadable footer).") from exc
    limits.check_columns(meta.num_columns)
    limits.check_rows(meta.num_rows)
    return meta.num_rows, [meta.schema.column(i).name for i in range(meta.num_columns)]
