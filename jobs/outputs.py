"""A run's result files (cleaned, imputed, features; CSV and Parquet; the changed cells), written side by side."""
from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Callable

import pandas as pd
import pyarrow as pa

from jobs.pipeline.export import csv_table, neutralised, safe_path, to_table, write_csv, write_parquet

from .limits import check_output

SAVE_THREADS = min(4, os.cpu_count() or 1)  # files written at once: one per core (3 on 2 cores took 25% longer)
IMPUTED_COLUMNS = ["row", "column", "value", "action"]
CHANGES_FILE = "changes.parquet"  # every changed or filled cell (jobs/pipeline/diff.py), read a page at a time
CHANGES_GROUP = 20_000  # rows per Parquet row group: a page of the diff reads one or two of them


def save_outputs(storage, prefix: str, result, headers: dict | None, limit_mb: int,
                 documents: dict[str, dict] | None = None) -> dict[str, int]:
    """The run's result files, written side by side (Arrow's writers and storage uploads release the GIL, so a
    second core works too), and its JSON `documents` (the plan, a validation report) by name; per CSV, how
    many cells and headers its spreadsheet-safe copy neutralised. A failure leaves none of the run's files."""
    cleaned = to_table(result.frame)

    def put(name: str, write: Callable[[str], None]) -> None:
        _put(storage, f"{prefix}/{name}", write, limit_mb)

    def put_csv(name: str, table: pa.Table) -> int:
        """The CSV, and beside it its spreadsheet-safe copy when some cell or header needs one; how many did."""
        put(name, lambda tmp: write_csv(table, tmp))
        safe, count = neutralised(table)
        if count:
            put(safe_path(name), lambda tmp: write_csv(safe, tmp))
        else:
            storage.delete(safe_path(f"{prefix}/{name}"))  # a re-run replaces its outputs: no stale copy
        return count

    writes = {}
    if result.features is not None:  # first: the features' CSV (all numbers as text) is the longest to write
        features = to_table(result.features)
        writes["features"] = lambda: put_csv("features.csv", csv_table(features))
        writes["features.parquet"] = lambda: put("features.parquet", lambda tmp: write_parquet(features, tmp))
    writes.update({"cleaned": lambda: put_csv("cleaned.csv", csv_table(cleaned, result.formats, headers)),
                   "cleaned.parquet": lambda: put("cleaned.parquet", lambda tmp: write_parquet(cleaned, tmp)),
                   "imputed": lambda: put_csv("imputed.csv", csv_table(imputed_table(result.imputed)))})
    if result.changes is not None:
        writes[CHANGES_FILE] = lambda: put(CHANGES_FILE, lambda tmp: write_parquet(result.changes, tmp,
                                                                                   row_group_size=CHANGES_GROUP))
    for name, document in (documents or {}).items():
        writes[name] = partial(put, name, partial(_write_json, document))
    with ThreadPoolExecutor(max_workers=SAVE_THREADS, thread_name_prefix="save") as pool:
        futures = {name: pool.submit(write) for name, write in writes.items()}
    try:
        done = {name: future.result() for name, future in futures.items()}  # the first error is raised here
    except BaseException:
        storage.delete_prefix(prefix)  # what the other writers stored
        raise
    return {name: count for name, count in done.items() if count is not None}


def _write_json(document: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, allow_nan=False)


def _put(storage, key: str, write: Callable[[str], None], limit_mb: int) -> None:
    """Write a file to scratch with `write(path)`, check its size, then put it in storage under `key`."""
    fd, tmp = tempfile.mkstemp(dir=storage.scratch_dir(), suffix=os.path.splitext(key)[1])
    os.close(fd)
    try:
        write(tmp)
        check_output(tmp, os.path.basename(key), limit_mb)  # before storage holds it
        storage.put_file(key, tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def imputed_table(imputed) -> pa.Table:
    """The imputed-cell list as a table; values of mixed types are written as text."""
    frame = imputed if isinstance(imputed, pd.DataFrame) else pd.DataFrame(columns=IMPUTED_COLUMNS)
    try:
        return to_table(frame)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        frame = frame.copy()
        frame["value"] = [None if pd.api.types.is_scalar(v) and pd.isna(v) else str(v) for v in frame["value"]]
        return to_table(frame)
