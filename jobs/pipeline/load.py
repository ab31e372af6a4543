"""Load step: inspect a file (format, encoding, delimiter, bounded shape); read it into a DataFrame."""
from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pandas as pd

from .bounds import FormatError, Limits, LimitError, LoadError
from .detect import (EXTENSIONS, FORMATS, detect_delimiter, detect_encoding, format_from_name, read_head,
                     sniff_format)
from .numbers import looks_like_codes
from .shape import json_shape, parquet_shape
from .sheet import xlsx_shape

__all__ = ["EXTENSIONS", "FORMATS", "FileInfo", "FormatError", "LimitError", "Limits", "LoadError", "detect_delimiter",
           "detect_encoding", "format_from_name", "inspect", "load_step", "read_frame", "sniff_format"]

MISSING_TOKENS = ["", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "Null",
                  "None", "none", "?", "-", "--"]
CHUNK_CELLS = 250_000  # cells of a CSV chunk while counting (about 20 MB as text objects)


@dataclass
class FileInfo:
    """What the loader learned about a file: enough to read it again the same way."""

    format: str
    encoding: str | None = None
    delimiter: str | None = None
    rows: int = 0
    columns: int = 0
    column_names: list[str] = field(default_factory=list)


def _text_columns(path: str | Path, info: FileInfo, na_values: tuple[str, ...] = (), rows: int = 20_000
                  ) -> dict[str, str]:
    """Columns to keep as text when reading: codes with leading zeros and integers too long for
    a float (type inference would turn '01234' into 1234 and an 18-digit id into a rounded float)."""
    head = pd.read_csv(path, nrows=rows, dtype=str, **_csv_kwargs(info, na_values))
    keep = {}
    for col in head.columns:
        values = head[col].dropna().str.strip()
        # Only a column of integers can be read as a number and lose its zeros: most are ruled out by a glance.
        if len(values) and values.iloc[:200].str.fullmatch(r"-?\d+").any() and looks_like_codes(values):
            keep[col] = "str"
    return keep


def normalize_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns mixing numbers and text become text; nested lists and objects become JSON text.

    Arrow (and so saving) needs one type per column, and rows must be hashable to compare them.
    """
    out = frame
    for col in frame.columns:
        series = frame[col]
        # infer_dtype is C-speed; a Python type() per value only for columns that are not plain text.
        if series.dtype != object or pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
            continue
        if out is frame:
            out = frame.copy(deep=False)
        out[col] = series.map(lambda v: v if v is None or (isinstance(v, float) and v != v) else
                              json.dumps(v, default=str) if isinstance(v, (list, dict)) else str(v))
    return out


def _csv_kwargs(info: FileInfo, na_values: tuple[str, ...] = ()) -> dict:
    return csv_options(info.delimiter, info.encoding, [*MISSING_TOKENS, *na_values])


def csv_options(delimiter: str | None, encoding: str | None, missing_tokens: list[str]) -> dict:
    """How pandas reads a delimited file here (also the exported plan script: it reads the file the same way)."""
    return dict(sep=delimiter, encoding=encoding, na_values=missing_tokens, keep_default_na=True,
                skipinitialspace=False, on_bad_lines="error", encoding_errors="strict")


def _json_frame(path: str | Path, info: FileInfo) -> pd.DataFrame:
    try:
        if info.format == "jsonl":
            return pd.read_json(path, lines=True, encoding=info.encoding, dtype=False)
        with open(path, encoding=info.encoding) as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # JSON Lines saved with a .json name
            return _json_frame(path, FileInfo(format="jsonl", encoding=info.encoding))
        raise LoadError(f"Invalid JSON: {exc}") from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise LoadError(f"Invalid JSON: {exc}") from exc
    if isinstance(data, dict):
        # {"data": [...]} or {"records": [...]}: one list of records inside an object.
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise LoadError("JSON must be an array of records (objects) or JSON Lines.")
        data = lists[0]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise LoadError("JSON must be an array of records (objects) or JSON Lines.")
    return pd.DataFrame.from_records(data)


def _replace_tokens(frame: pd.DataFrame, na_values: tuple[str, ...] = ()) -> pd.DataFrame:
    """Formats without a na_values option: turn missing tokens in text columns into NA."""
    out = frame.copy(deep=False)
    tokens = {*MISSING_TOKENS, *na_values}
    for col in out.columns:
        series = out[col]
        if isinstance(series.dtype, pd.CategoricalDtype):  # Parquet's dictionary columns: drop the token levels
            doomed = [c for c in series.cat.categories if isinstance(c, str) and c.strip() in tokens]
            out[col] = series.cat.remove_categories(doomed) if doomed else series
        elif series.dtype == object or pd.api.types.is_string_dtype(series):
            out[col] = series.mask(series.map(lambda v: isinstance(v, str) and v.strip() in tokens).astype(bool))
    return out


def inspect(path: str | Path, filename: str, limits: Limits | None = None) -> FileInfo:
    """Detect format, encoding and delimiter, then count rows and columns without building a frame.

    Memory stays bounded whatever the file holds: delimited text is counted in chunks of
    CHUNK_CELLS, JSON by parser events, Parquet from its footer, .xlsx by one pass over its XML.
    A shape over `limits` raises LimitError as soon as it is seen.
    """
    limits = limits or Limits()
    head = read_head(path)
    if not head.strip():
        raise LoadError("The file is empty.")
    info = FileInfo(format=sniff_format(head, format_from_name(filename)))
    if info.format in ("csv", "tsv", "json", "jsonl"):
        info.encoding = detect_encoding(head)
    if info.format in ("csv", "tsv"):
        text = head.decode(info.encoding, errors="ignore")
        info.delimiter = "\t" if info.format == "tsv" else detect_delimiter(text)
        try:
            info.rows, names = _count_rows(path, info, limits)
        except LoadError as exc:
            # Encoding is guessed from the first 256 KB; a UTF-8 guess can meet a cp1252 byte later.
            if not (info.encoding == "utf-8" and isinstance(exc.__cause__, UnicodeDecodeError)):
                raise
            info.encoding = "cp1252"
            info.rows, names = _count_rows(path, info, limits)
    elif info.format in ("json", "jsonl"):
        info.rows, names = json_shape(path, info, limits)
    elif info.format == "parquet":
        info.rows, names = parquet_shape(path, limits)
    else:
        info.rows, names = xlsx_shape(path, limits)
    for name in names:
        limits.check_name(name)
    info.column_names = _unique_names(names)
    info.columns = len(info.column_names)
    limits.check_columns(info.columns)
    if info.columns == 0:
        raise LoadError("No columns found.")
    if info.rows == 0:
        raise LoadError("The file has a header but no data rows.")
    return info


def _check_header(path: str | Path, info: FileInfo, limits: Limits) -> int:
    """The header's field count, read from a bounded prefix: pandas would hold a whole header line
    in memory (a 50 MB column name cost 300 MB) before a name could be measured."""
    budget = limits.columns * (8 * limits.name_chars + 3) + 1024  # 4 bytes a character, doubled in quotes
    with open(path, "rb") as fh:
        head = fh.read(budget)
        whole = not fh.read(1)
    text = io.StringIO(head.decode(info.encoding, errors="ignore"), newline="")
    rows = csv.reader(text, delimiter=info.delimiter)
    try:
        fields = next((row for row in rows if row), [])
    except csv.Error as exc:  # a field over the csv module's own 128 KB limit
        raise _long_header(limits) from exc
    for name in fields:
        limits.check_name(name.strip())
    limits.check_columns(len(fields), at_least=True)
    if not whole and text.tell() >= len(text.getvalue()):  # the header runs past the prefix
        raise _long_header(limits)
    return len(fields)


def _long_header(limits: Limits) -> LimitError:
    return LimitError("column_name_too_long", f"The header row holds a column name longer than {limits.name_chars:,} "
                      f"characters (MAX_COLUMN_NAME), or more than {limits.columns:,} columns.",
                      max_column_name=limits.name_chars)


def _count_rows(path: str | Path, info: FileInfo, limits: Limits) -> tuple[int, list[str]]:
    chunk_rows = max(1, CHUNK_CELLS // max(1, _check_header(path, info, limits)))
    rows, names = 0, None
    for chunk in iter_csv(path, info, chunk_rows):
        names = names if names is not None else list(chunk.columns)
        rows += len(chunk)
        limits.check_rows(rows, at_least=True)
    return rows, names or []


def iter_csv(path: str | Path, info: FileInfo, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Chunks with pandas' own types: numbers parse to arrays several times faster than to text objects
    (a 170 MB file: 1.3 s instead of 6 s), and every text field is still decoded, so encodings are checked."""
    try:
        with pd.read_csv(path, chunksize=chunk_rows, **_csv_kwargs(info)) as reader:
            yield from reader
    except pd.errors.EmptyDataError as exc:
        raise LoadError("The file has no header row.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise LoadError(f"Could not parse the file as delimited text: {exc}") from exc


def _excel_frame(path: str | Path, na_values: tuple[str, ...]) -> pd.DataFrame:
    """Excel cells as Excel typed them: text cells stay text ('08540', '000075'), numbers stay numbers."""
    frame = pd.read_excel(path, engine="openpyxl", dtype=object)
    out = {}
    for col in frame.columns:
        series = frame[col]
        kinds = {type(v) for v in series.dropna()}
        if kinds and kinds <= {int, float} | {bool}:
            out[col] = pd.to_numeric(series) if bool not in kinds else series
        elif kinds and all(issubclass(k, datetime) for k in kinds):
            out[col] = pd.to_datetime(series)
        else:
            out[col] = series.map(lambda v: v if v is None or isinstance(v, str) or v != v else str(v))
    return _replace_tokens(pd.DataFrame(out, index=frame.index), na_values)


def read_frame(path: str | Path, info: FileInfo, na_values: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read the whole file with missing-value tokens (ours and the user's `na_values`) turned into NA."""
    text_columns: dict[str, str] = {}
    try:
        if info.format in ("csv", "tsv"):
            text_columns = _text_columns(path, info, na_values)
            frame = pd.read_csv(path, low_memory=False, dtype=text_columns, **_csv_kwargs(info, na_values))
        elif info.format in ("json", "jsonl"):
            frame = _replace_tokens(_json_frame(path, info), na_values)
        elif info.format == "xlsx":
            frame = _excel_frame(path, na_values)
        elif info.format == "parquet":
            frame = _replace_tokens(pd.read_parquet(path), na_values)
        else:
            raise FormatError(f"Unsupported format {info.format!r}.")
    except LoadError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise LoadError("The file has no header row.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise LoadError(f"Could not read the {info.format} file: {exc}") from exc
    names = _unique_names(frame.columns)
    blank = {name: "" for name, col in zip(names, frame.columns) if not str(col).strip() or
             str(col).startswith("Unnamed: ")}
    frame.columns = names
    frame = normalize_objects(frame)
    # Read by load_step only (attrs do not survive every operation): the plan says how to read the file again.
    frame.attrs.update(blank_headers=blank, text_columns=list(text_columns))
    return frame


def _unique_names(columns) -> list[str]:
    """Column names as non-empty unique strings ('a', 'a' -> 'a', 'a_2')."""
    seen: dict[str, int] = {}
    names = []
    for i, col in enumerate(columns):
        name = str(col).strip() or f"column_{i + 1}"
        if name.startswith("Unnamed: "):
            name = f"column_{i + 1}"
        n = seen.get(name, 0) + 1
        seen[name] = n
        names.append(name if n == 1 else f"{name}_{n}")
    return names


def load_step(path: str | Path, info: FileInfo, na_values: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[dict]]:
    """The pipeline's first step: the frame and a log entry describing how it was read."""
    frame = read_frame(path, info, tuple(na_values))
    missing = int(frame.isna().sum().sum())
    entry = {
        "column": None, "action": "load", "count": len(frame), "source": "heuristic",
        "params": {"format": info.format, "encoding": info.encoding, "delimiter": info.delimiter,
                   "missing_tokens": [*MISSING_TOKENS, *na_values],
                   "headers": frame.attrs.pop("blank_headers", {}), "text_columns": frame.attrs.pop("text_columns", [])},
        "before": None, "after": {"rows": len(frame), "columns": frame.shape[1], "missing_cells": missing},
        "message": f"Read {len(frame):,} rows × {frame.shape[1]} columns ({info.format}); "
                   f"{missing:,} missing cells.",
    }
    return frame, [entry]
