"""Load step: detect format, encoding and delimiter; read a file into a DataFrame."""
from __future__ import annotations

import csv
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from .numbers import looks_like_codes

MISSING_TOKENS = ["", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "Null",
                  "None", "none", "?", "-", "--"]
FORMATS = ("csv", "tsv", "json", "jsonl", "xlsx", "parquet")
EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet",
}
_DELIMITERS = [",", ";", "\t", "|"]
WESTERN = {"cp1252", "latin_1", "iso8859_15"}
SAMPLE_BYTES = 256 * 1024
CHUNK_ROWS = 200_000


class LoadError(ValueError):
    """The file cannot be read as the tabular format it claims to be."""


class FormatError(LoadError):
    """The file's format is not one we read."""


@dataclass
class FileInfo:
    """What the loader learned about a file: enough to read it again the same way."""

    format: str
    encoding: str | None = None
    delimiter: str | None = None
    rows: int = 0
    columns: int = 0
    column_names: list[str] = field(default_factory=list)


def format_from_name(filename: str) -> str | None:
    return EXTENSIONS.get(Path(filename).suffix.lower())


def sniff_format(head: bytes, claimed: str | None) -> str:
    """Trust the content over the name: binary containers are recognised by magic bytes."""
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        if claimed not in (None, "xlsx"):
            raise FormatError("The file is a ZIP container, not %s." % claimed.upper())
        return "xlsx"
    if claimed in ("parquet", "xlsx"):
        raise LoadError(f"The file does not look like {claimed} (wrong magic bytes).")
    if claimed is not None:
        return claimed
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "jsonl" if b"}\n{" in stripped.replace(b"\r\n", b"\n").replace(b"} ", b"}") else "json"
    raise FormatError("Unknown file type: use .csv, .tsv, .json, .jsonl, .xlsx or .parquet.")


def detect_encoding(sample: bytes) -> str:
    if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError("The file contains NUL bytes: it is binary, not text.")
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        # The sample may end in the middle of a multi-byte character.
        sample.decode("utf-8") if len(sample) < SAMPLE_BYTES else sample[:-4].decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    matches = from_bytes(sample)
    best = matches.best()
    if best is None:
        raise LoadError("Could not detect the text encoding; save the file as UTF-8.")
    # Short samples fit several single-byte code pages equally well; Western Excel exports
    # (cp1252) are by far the most common, so prefer it when it reads as cleanly.
    for match in matches:
        if match.encoding in WESTERN and match.chaos <= best.chaos + 0.01:
            return _western(sample)
    return best.encoding


def _western(sample: bytes) -> str:
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:  # five bytes are undefined in cp1252
        return "latin_1"


def detect_delimiter(text: str, default: str = ",") -> str:
    """Pick the delimiter that splits the first lines into the most, equally many fields."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the last sampled line may be cut short
    best, best_score = default, 0
    for delim in _DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delim)]
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        consistent = sum(c == counts[0] for c in counts) / len(counts)
        score = counts[0] * consistent
        if consistent >= 0.9 and score > best_score:
            best, best_score = delim, score
    return best


def _read_head(path: str | Path, size: int = SAMPLE_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def _text_columns(path: str | Path, info: FileInfo, na_values: tuple[str, ...] = (), rows: int = 20_000
                  ) -> dict[str, str]:
    """Columns to keep as text when reading: codes with leading zeros and integers too long for
    a float (type inference would turn '01234' into 1234 and an 18-digit id into a rounded float)."""
    head = pd.read_csv(path, nrows=rows, dtype=str, **_csv_kwargs(info, na_values))
    keep = {}
    for col in head.columns:
        values = head[col].dropna().str.strip()
        if len(values) and looks_like_codes(values):
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
            out = frame.copy()
        out[col] = series.map(lambda v: v if v is None or (isinstance(v, float) and v != v) else
                              json.dumps(v, default=str) if isinstance(v, (list, dict)) else str(v))
    return out


def _csv_kwargs(info: FileInfo, na_values: tuple[str, ...] = ()) -> dict:
    return dict(sep=info.delimiter, encoding=info.encoding, na_values=[*MISSING_TOKENS, *na_values],
                keep_default_na=True, skipinitialspace=False, on_bad_lines="error",
                encoding_errors="strict")


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
    except (ValueError, UnicodeDecodeError) as exc:
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
    out = frame.copy()
    tokens = {*MISSING_TOKENS, *na_values}
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].mask(out[col].map(lambda v: isinstance(v, str) and v.strip() in tokens))
    return out


def inspect(path: str | Path, filename: str) -> FileInfo:
    """Detect format, encoding and delimiter, then count rows and columns (bounded memory)."""
    head = _read_head(path)
    if not head.strip():
        raise LoadError("The file is empty.")
    info = FileInfo(format=sniff_format(head, format_from_name(filename)))
    if info.format in ("csv", "tsv", "json", "jsonl"):
        info.encoding = detect_encoding(head)
    if info.format in ("csv", "tsv"):
        text = head.decode(info.encoding, errors="ignore")
        info.delimiter = "\t" if info.format == "tsv" else detect_delimiter(text)
        try:
            info.rows, info.column_names = _count_rows(path, info)
        except LoadError as exc:
            # Encoding is guessed from the first 256 KB; a UTF-8 guess can meet a cp1252 byte later.
            if not (info.encoding == "utf-8" and isinstance(exc.__cause__, UnicodeDecodeError)):
                raise
            info.encoding = "cp1252"
            info.rows, info.column_names = _count_rows(path, info)
    elif info.format == "parquet":
        try:
            meta = pq.ParquetFile(path).metadata
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise LoadError(f"Invalid Parquet file: {exc}") from exc
        info.rows = meta.num_rows
        info.column_names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    else:
        frame = read_frame(path, info)
        info.rows, info.column_names = len(frame), [str(c) for c in frame.columns]
    info.columns = len(info.column_names)
    if info.columns == 0:
        raise LoadError("No columns found.")
    if info.rows == 0:
        raise LoadError("The file has a header but no data rows.")
    return info


def _count_rows(path: str | Path, info: FileInfo) -> tuple[int, list[str]]:
    rows, names = 0, None
    for chunk in iter_csv(path, info):
        names = names if names is not None else _unique_names(chunk.columns)
        rows += len(chunk)
    return rows, names or []


def iter_csv(path: str | Path, info: FileInfo) -> Iterator[pd.DataFrame]:
    try:
        with pd.read_csv(path, chunksize=CHUNK_ROWS, dtype=str, **_csv_kwargs(info)) as reader:
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
    try:
        if info.format in ("csv", "tsv"):
            frame = pd.read_csv(path, low_memory=False, dtype=_text_columns(path, info, na_values),
                                **_csv_kwargs(info, na_values))
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
    frame.attrs["blank_headers"] = blank  # read by load_step only: attrs do not survive every operation
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
                   "headers": frame.attrs.pop("blank_headers", {})},
        "before": None, "after": {"rows": len(frame), "columns": frame.shape[1], "missing_cells": missing},
        "message": f"Read {len(frame):,} rows × {frame.shape[1]} columns ({info.format}); "
                   f"{missing:,} missing cells.",
    }
    return frame, [entry]
