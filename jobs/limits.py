"""Bounds of one job: decoded size (estimated before loading, measured after), output size, memory ceiling,
whether it may take a second core."""
from __future__ import annotations

import logging
import os
import resource
import socket

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rq import Worker

log = logging.getLogger(__name__)
MB = 1024 * 1024
CELL_BYTES = 8  # what a decoded cell costs at least: a float64, an int64, a text offset or pointer
SAMPLE_ROWS = 100  # Parquet rows decoded to estimate the rest; few, since one row may itself be huge


class OverLimit(Exception):
    """The input or a result is over a size limit: it would fail the same way every time."""


class DecodedTooLarge(OverLimit):
    """The table takes more memory than MAX_DECODED_MB."""


class OutputTooLarge(OverLimit):
    """A result file is larger than MAX_OUTPUT_MB."""


def _mb(size: float) -> str:
    return f"{size / MB:,.0f} MB"


def estimate_decoded_bytes(path: str, file_format: str, rows: int, columns: int) -> int:
    """A cheap estimate of the loaded table's size, before anything is loaded.

    Every cell costs at least CELL_BYTES; for Parquet also the footer's uncompressed page sizes and
    a decoded sample of the first rows scaled to the row count: dictionary and run-length encoding
    hide a long value repeated a million times from the footer, not from a sample.
    """
    estimate = rows * columns * CELL_BYTES
    if file_format != "parquet":
        return estimate
    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
        footer = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        sample = next(parquet.iter_batches(batch_size=SAMPLE_ROWS), None)
    except (OSError, pa.ArrowException):
        return estimate  # unreadable: the loader says so in its own words
    scaled = _decoded_nbytes(sample) * meta.num_rows // max(sample.num_rows, 1) if sample is not None else 0
    return max(estimate, footer, scaled)


def _decoded_nbytes(batch: pa.RecordBatch) -> int:
    # A dictionary column (a pandas categorical saved with its schema) is small until it is written out.
    return sum((c.dictionary_decode() if pa.types.is_dictionary(c.type) else c).nbytes for c in batch.columns)


def check_estimate(path: str, file_format: str, rows: int, columns: int, limit_mb: int) -> None:
    if limit_mb <= 0:
        return
    estimate = estimate_decoded_bytes(path, file_format, rows, columns)
    if estimate > limit_mb * MB:
        raise DecodedTooLarge(f"The file would take about {_mb(estimate)} of memory once decoded, over this "
                              f"service's limit of {_mb(limit_mb * MB)} (MAX_DECODED_MB). "
                              "Split it or upload fewer rows or columns.")


def decoded_bytes(frame: pd.DataFrame) -> int:
    """The frame's memory, with categorical columns counted as the text they stand for (a CSV writes
    every cell out in full, and most steps turn categories back into values)."""
    total = int(frame.index.memory_usage(deep=True))
    for _, column in frame.items():
        if isinstance(column.dtype, pd.CategoricalDtype) and len(column.cat.categories):
            per_value = column.cat.categories.memory_usage(deep=True) / len(column.cat.categories)
            total += int(len(column) * max(per_value, CELL_BYTES))
        else:
            total += int(column.memory_usage(deep=True, index=False))
    return total


def check_decoded(frame: pd.DataFrame, limit_mb: int) -> None:
    if limit_mb <= 0:
        return
    size = decoded_bytes(frame)
    if size > limit_mb * MB:
        raise DecodedTooLarge(f"The file takes {_mb(size)} of memory once decoded, over this service's limit "
                              f"of {_mb(limit_mb * MB)} (MAX_DECODED_MB). Split it or upload fewer rows or columns.")


def check_output(path: str, name: str, limit_mb: int) -> None:
    """A result file, still in scratch space, must fit the limit before it goes to storage."""
    size = os.path.getsize(path)
    if limit_mb > 0 and size > limit_mb * MB:
        raise OutputTooLarge(f"The result file {name} would be {_mb(size)}, over this service's limit of "
                             f"{_mb(limit_mb * MB)} per result file (MAX_OUTPUT_MB).")


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space (RLIMIT_AS): an allocation beyond it fails with MemoryError
    inside the job instead of the kernel's OOM killer taking the worker, or the machine, down."""
    if megabytes <= 0:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = megabytes * MB
    resource.setrlimit(resource.RLIMIT_AS, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


def address_space_bytes() -> int:
    """This process's current virtual size (VmSize): the part of the ceiling a forked job starts with."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cores_to_spare(connection, worker_name: str | None, cores: int | None = None) -> bool:
    """Whether this job may use a second core: no more busy workers on this machine than half its cores (a
    lone job on a 2-core dyno, not two; with two jobs the forks only add overhead, measured 8% fewer jobs/s)."""
    host = socket.gethostname()
    busy = sum(1 for w in Worker.all(connection=connection)
               if w.hostname == host and (w.name == worker_name or w.get_state() == "busy"))
    return 2 * max(1, busy) <= (cores or os.cpu_count() or 1)
