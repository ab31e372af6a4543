"""Writing cleaned tables: Arrow conversion shared by the CSV and Parquet outputs, dates as dates, safe CSV copies."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_CLOCKS = ("%H:%M:%S", "%H:%M")  # time-of-day text a pattern in `formats` can re-render
# OWASP CSV injection: a cell starting with one of these may be read by a spreadsheet as a formula...
FORMULA = r"^[=+\-@\t\r]"
# ...unless it is a negative number ("-5", "-1.5e3", "-1,200", "-12%"), which a spreadsheet keeps as a number
# ("+1" it turns into the formula =+1).
NUMBER = r"-([0-9][0-9,]*(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?%?"


def _ticks(column: pa.ChunkedArray) -> np.ndarray:
    """A timestamp column's raw integer ticks, missing values as 0."""
    return pc.fill_null(column.cast(pa.int64()), 0).to_numpy()


def _date_only(column: pa.ChunkedArray) -> bool:
    """A naive timestamp column with midnight in every value: a column of dates."""
    kind = column.type
    if not pa.types.is_timestamp(kind) or kind.tz is not None:
        return False
    return not (_ticks(column) % (_PER_SECOND[kind.unit] * 86_400)).any()


def _with_dates(table: pa.Table) -> pa.Table:
    for i, column in enumerate(table.columns):
        if _date_only(column):
            table = table.set_column(i, table.field(i).name, column.cast(pa.date32()))
    return table


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps as 'YYYY-MM-DD HH:MM:SS', with fractions only as fine as some value needs, offsets as +HH:MM."""
    kind = column.type
    ticks, per_second = _ticks(column), _PER_SECOND[kind.unit]
    for unit in ("s", "ms", "us", "ns"):  # the coarsest unit that still holds every value exactly
        step = per_second // _PER_SECOND[unit]
        if step <= 1 or not (ticks % step).any():
            break
    text = column.cast(pa.timestamp(unit, kind.tz), safe=False).cast(pa.string())
    if kind.tz is not None:  # Arrow writes UTC as Z and other zones as +0100: ISO wants +01:00
        text = pc.replace_substring_regex(text, r"([+-]\d\d)(\d\d)$", r"\1:\2")
    return text


def _strftime(series: pd.Series, pattern: str) -> pa.Array | None:
    """`series.dt.strftime(pattern)` as Arrow text, run on distinct values; time-of-day text is read first."""
    if not isinstance(pattern, str):
        raise ValueError(f"formats must map column names to strftime patterns; got {pattern!r}")
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if pd.api.types.is_datetime64_any_dtype(uniques):
        texts = pd.Index(uniques).strftime(pattern)
    elif pd.api.types.is_object_dtype(uniques) or pd.api.types.is_string_dtype(uniques):
        raw = pd.Index(uniques).astype(str)
        parsed = pd.to_datetime(raw, format=_CLOCKS[0], errors="coerce")
        parsed = parsed.where(parsed.notna(), pd.to_datetime(raw, format=_CLOCKS[1], errors="coerce"))
        texts = np.where(parsed.notna(), parsed.strftime(pattern), raw)  # unreadable values keep their text
    else:
        return None  # numbers and the like have no date representation to reproduce
    return pc.take(pa.array(np.asarray(texts, dtype=object), type=pa.string()),
                   pa.array(codes, mask=codes < 0, type=pa.int64()))


def _apply_formats(table: pa.Table, formats: dict | None, source: pd.DataFrame | None = None) -> pa.Table:
    if not formats:
        return table
    if not isinstance(formats, dict):
        raise ValueError(f"formats must be a dict of column name to strftime pattern; got {type(formats).__name__}")
    for i in range(table.num_columns):
        name = source.columns[i] if source is not None else table.field(i).name
        pattern = formats.get(name, formats.get(str(name)))
        if pattern is None:
            continue  # columns not in the table (dropped since) are simply unused
        series = source.iloc[:, i] if source is not None else table.column(i).to_pandas()
        if pa.types.is_date(table.field(i).type) or pa.types.is_timestamp(table.field(i).type):
            series = pd.to_datetime(series)
        text = _strftime(series, pattern)
        if text is not None:
            table = table.set_column(i, table.field(i).name, text)
    return table


def to_table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> pa.Table:
    """Arrow table of a frame: date-only datetime columns as date32, other datetimes as timestamps.

    Columns named in `formats` become text written with their strftime pattern: that is for the CSV
    (reproducing the input's own representation); build the Parquet table without it to keep types.
    """
    return _apply_formats(_with_dates(pa.Table.from_pandas(frame, preserve_index=False)), formats, frame)


def csv_table(frame: pd.DataFrame | pa.Table, formats: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> pa.Table:
    """The table as the CSV holds it: dates as YYYY-MM-DD, timestamps as YYYY-MM-DD HH:MM:SS[.fff][+HH:MM|Z].

    `headers` writes some columns under another header: the input's own (an empty header stays empty).
    """
    table = to_table(frame, formats) if isinstance(frame, pd.DataFrame) else _apply_formats(_with_dates(frame), formats)
    for i, column in enumerate(table.columns):
        if pa.types.is_timestamp(column.type):
            table = table.set_column(i, table.field(i).name, _as_text(column))
    if headers:
        table = table.rename_columns([headers.get(name, name) for name in table.column_names])
    return table


def write_csv(frame: pd.DataFrame | pa.Table, path: str | Path, formats: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> None:
    """CSV of `csv_table(frame, formats, headers)`; missing values empty."""
    # pyarrow writes CSV ~10x faster than DataFrame.to_csv (ARCHITECTURE.md measurements).
    pacsv.write_csv(csv_table(frame, formats, headers), str(path))


def formula_like(text: str) -> bool:
    """Text a spreadsheet would read as a formula: starts with =, +, -, @, tab or CR and is not a negative number."""
    return re.match(FORMULA, text) is not None and re.fullmatch(NUMBER, text) is None


def _text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _escaped(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, int]:
    if pa.types.is_dictionary(column.type) and _text(column.type.value_type):
        column = column.cast(column.type.value_type)  # categories
    if not _text(column.type):
        return column, 0  # numbers, booleans and dates are written as what they are
    live = pc.fill_null(pc.match_substring_regex(column, FORMULA), False)
    if not pc.any(live).as_py():  # most columns: no cell starts like a formula, one scan is enough
        return column, 0
    live = pc.and_(live, pc.fill_null(pc.invert(pc.match_substring_regex(column, f"^({NUMBER})$")), True))
    count = pc.sum(live).as_py() or 0
    if not count:
        return column, 0
    return pc.if_else(live, pc.utf8_replace_slice(column, start=0, stop=0, replacement="'"), column), count


def neutralised(table: pa.Table) -> tuple[pa.Table, int]:
    """The table with formula-like text cells and headers prefixed by a single quote (OWASP), and how many."""
    columns, counts = zip(*(_escaped(c) for c in table.columns)) if table.num_columns else ((), ())
    names = ["'" + n if formula_like(n) else n for n in table.column_names]
    changed = sum(counts) + sum(n != old for n, old in zip(names, table.column_names))
    return (pa.table(list(columns), names=names) if changed else table), changed


def neutralise_csv(source: str | Path, target: str | Path) -> int:
    """A stored CSV, read as text batch by batch, written again neutralised; the number of cells and headers changed."""
    with open(source, newline="", encoding="utf-8") as handle:
        names = next(csv.reader(handle), [])
    options = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, null_values=[""],
                                   strings_can_be_null=True, quoted_strings_can_be_null=False)
    reader, writer, changed = pacsv.open_csv(str(source), convert_options=options), None, 0
    try:
        for batch in reader:
            table, count = neutralised(pa.Table.from_batches([batch]))
            writer = writer or pacsv.CSVWriter(str(target), table.schema)
            writer.write_table(table)
            changed += count
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no rows: the header alone
        table, changed = neutralised(pa.table([pa.array([], pa.string())] * len(names), names=names))
        pacsv.write_csv(table, str(target))
    return changed


def write_parquet(frame: pd.DataFrame | pa.Table, path: str | Path, row_group_size: int | None = None) -> None:
    """Parquet with date-only columns as date32 and other datetimes as timestamps."""
    pq.write_table(to_table(frame) if isinstance(frame, pd.DataFrame) else _with_dates(frame), str(path),
                   row_group_size=row_group_size)


def safe_path(path: str) -> str:
    """Where a CSV's spreadsheet-safe copy lives: beside it, as `name.safe.csv`."""
    return path.removesuffix(".csv") + ".safe.csv"
