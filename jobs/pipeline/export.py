"""Writing cleaned tables: Arrow conversion shared by the CSV and Parquet outputs."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def to_table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_csv(frame: pd.DataFrame | pa.Table, path: str | Path) -> None:
    # pyarrow writes CSV ~10x faster than DataFrame.to_csv (ARCHITECTURE.md measurements).
    pacsv.write_csv(frame if isinstance(frame, pa.Table) else to_table(frame), str(path))


def write_parquet(frame: pd.DataFrame | pa.Table, path: str | Path) -> None:
    pq.write_table(frame if isinstance(frame, pa.Table) else to_table(frame), str(path))
