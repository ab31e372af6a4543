"""A served run's changed cells, a page at a time, and the cleaned table's first rows with their changes marked."""
from __future__ import annotations

import csv
import io
import itertools
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq
from flask import current_app

from jobs.outputs import CHANGES_FILE
from jobs.pipeline.diff import DIFF_COLUMNS, KINDS

from .errors import APIError
from .models import Dataset
from .plans import run_file
from .storage import StorageError

log = logging.getLogger(__name__)
PREVIEW_ROWS = 20


@contextmanager
def _changes_file(dataset: Dataset) -> Iterator[str]:
    key = run_file(dataset, CHANGES_FILE)
    storage = current_app.extensions["storage"]
    if key is None or not storage.exists(key):
        raise APIError(404, "not_found", "The dataset's changes were not recorded (it was cleaned before they "
                       "were); reprocess it to list them.", {"status": dataset.status})
    with storage.local_path(key) as path:
        yield path


def changes_page(dataset: Dataset, offset: int, limit: int, column: str | None = None,
                 kind: str | None = None) -> tuple[pa.Table, int]:
    """The changed cells from `offset` (in the cleaned table's column order, then row), at most `limit`, and how
    many match in all; `column` and `kind` narrow them. Unfiltered, only the row groups of the page are read."""
    if kind is not None and kind not in KINDS:
        raise APIError(400, "invalid_parameter", f"kind must be one of {', '.join(KINDS)}.",
                       {"field": "kind", "allowed": list(KINDS)})
    filters = [(name, "==", value) for name, value in (("column", column), ("kind", kind)) if value is not None]
    with _changes_file(dataset) as path:
        if filters:
            table = pq.read_table(path, filters=filters)
            return table.slice(offset, limit), table.num_rows
        source = pq.ParquetFile(path)
        sizes = [source.metadata.row_group(i).num_rows for i in range(source.num_row_groups)]
        starts = list(itertools.accumulate(sizes, initial=0))[:-1]
        groups = [i for i, (start, size) in enumerate(zip(starts, sizes)) if start < offset + limit and
                  start + size > offset]
        if not groups:
            return source.schema_arrow.empty_table(), source.metadata.num_rows
        table = source.read_row_groups(groups)
        return table.slice(offset - starts[groups[0]], limit), source.metadata.num_rows


def preview(dataset: Dataset, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[list], dict, dict[str, int]]:
    """For the dataset page: the cleaned CSV's header and first `rows` rows as the download writes them (read
    streaming: a few KB, also from S3), their changes by (row, column), and how many cells of each column changed
    (the changes file fetched once). What cannot be read is left out; the page shows the rest."""
    try:
        with _changes_file(dataset) as path:
            found = pq.read_table(path, filters=[("cleaned_row", "<=", rows)])
            counts = pq.read_table(path, columns=["column"]).column("column").value_counts().to_pylist()
    except APIError:  # cleaned before changes were recorded: the table without marks
        found, counts = pa.table({name: [] for name in DIFF_COLUMNS}), []
    changed = {entry["values"]: entry["counts"] for entry in counts}
    storage = current_app.extensions["storage"]
    try:
        with io.TextIOWrapper(storage.open(dataset.cleaned_key), encoding="utf-8", newline="") as handle:
            head = list(itertools.islice(csv.reader(handle), rows + 1))
    except (StorageError, UnicodeDecodeError, csv.Error) as exc:
        log.warning("no preview of dataset %s: %s", dataset.id, exc)
        return [], [], {}, changed
    if not head:
        return [], [], {}, changed
    marks = {(r["cleaned_row"] - 1, r["column"]): r for r in found.to_pylist()}
    return head[0], head[1:], marks, changed
