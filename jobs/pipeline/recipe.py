"""The steps of an exported plan script (plan.py): a run's decisions applied again in plain pandas and numpy.

script.py copies these functions into the script, with the pipeline's own functions they call (it lists
them), so they may use pandas, numpy and the standard library only, and names from that list.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from .dates import _DATE_SHAPE, _century, read_with
from .dates import parse_times
from .distinct import remap
from .coerce import _variant_key
from .export import FORMULA, NUMBER
from .load import _unique_names
from .outliers import handled
from .units import _BARE, _read

SIGNS = ("$", "€", "£", "¥", "₹", " ", "\u00a0", "'")  # currency signs and digit-group spaces, dropped
# [0-9], not \d: Python's \d (and float()) would read other scripts' digits, which the service does not.
PLAIN = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
GROUPED = re.compile(r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")


def read_table(path: str, how: dict) -> pd.DataFrame:
    """The raw file as the service read it: its delimiter, encoding and missing tokens; codes kept as text."""
    frame = pd.read_csv(path, sep=how["delimiter"], encoding=how["encoding"], na_values=how["missing_tokens"],
                        keep_default_na=True, skipinitialspace=False, on_bad_lines="error", low_memory=False,
                        dtype={name: "str" for name in how["text_columns"]})
    frame.columns = _unique_names(frame.columns)
    return frame


def is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def trimmed(series: pd.Series) -> pd.Series:
    """Surrounding whitespace removed, but the leading space that keeps a spreadsheet from running ' =1+1'."""
    text = series.dropna().astype("str")
    stripped = text.str.strip()
    armed = stripped.str.match(FORMULA) & ~stripped.str.fullmatch(NUMBER) & ~text.str.match(FORMULA)
    stripped = stripped.where(~armed, text.str.rstrip())
    return stripped.reindex(series.index) if (stripped != text).any() else series


def read_numbers(values: pd.Series, decimal_comma: bool) -> pd.Series:
    """'$1,200', '12%', '(5.00)', '1 200' as numbers (with `decimal_comma`, '3,5' and '1.234,56'); else missing."""
    text = values.astype("str").str.strip()
    negative = text.str.match(r"^\(.*\)$")
    text = text.str.replace(r"^\((.*)\)$", r"\1", regex=True)
    for sign in (*SIGNS, "%"):
        text = text.str.replace(sign, "", regex=False)
    if decimal_comma:
        grouped = text.str.contains(r"\.[0-9]{3}(?:,|$)", regex=True)
        text = text.where(~grouped, text.str.replace(".", "", regex=False)).str.replace(",", ".", regex=False)
    else:
        text = text.where(~text.str.match(GROUPED), text.str.replace(",", "", regex=False))
    numbers = pd.to_numeric(text.where(text.str.match(PLAIN)), errors="coerce").astype("float64")
    return numbers.where(~negative, -numbers)


def read_units(values: pd.Series, sizes: dict[str, float], unit_size: float) -> pd.Series:
    """Numbers written with a unit, in the column's unit (each unit's size in its dimension's base unit)."""
    numbers = {}
    for value in values.dropna().astype("str").unique():
        reading = _read(value)
        if reading is not None and reading[1] in sizes:
            numbers[value] = reading[0] * sizes[reading[1]] / unit_size
        if _BARE.match(value):  # a bare number is in the column's unit
            numbers[value] = float(value)
    return values.map(numbers, na_action="ignore").astype("float64")


def read_dates(values: pd.Series, dayfirst: bool, formats: list[str]) -> pd.Series:
    """ISO 8601 first, then the formats the service read this column with, then dateutil for a bounded rest;
    two-digit years in the future moved back a century."""
    text = values.astype("str").str.strip()
    unique = pd.Series(text.dropna().unique())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format" is expected
        parsed = pd.to_datetime(unique, format="ISO8601", errors="coerce", utc=True)
        rest = parsed.isna() & unique.str.match(_DATE_SHAPE)
        if rest.any():
            parsed[rest] = read_with(unique[rest], formats, dayfirst)[0]
        parsed = _century(unique, parsed.dt.tz_localize(None))
        return pd.to_datetime(text.map(pd.Series(parsed.to_numpy(), index=unique.to_numpy())))


def read_times(values: pd.Series) -> pd.Series:
    return parse_times(values)[0]


def spelled(series: pd.Series, spellings: list[str]) -> pd.Series:
    """Values differing from a canonical spelling only in case or spacing, written as it."""
    canonical = {_variant_key(s): s for s in spellings}
    return remap(series, {v: canonical[_variant_key(v)] for v in series.dropna().unique()
                          if _variant_key(v) in canonical})


def set_cells(frame: pd.DataFrame, column: str, cells: dict[int, object]) -> pd.DataFrame:
    """Cells the service repaired one by one on this file's evidence (raw row number → value)."""
    rows = [row for row in cells if row in frame.index]  # rows removed since are skipped
    values = [cells[r] for r in rows]
    out = frame.copy()
    if pd.api.types.is_datetime64_any_dtype(out[column]):
        values = pd.to_datetime(values)  # written as ISO text
    elif pd.api.types.is_integer_dtype(out[column]) and any(isinstance(v, float) and not v.is_integer() for v in values):
        out[column] = out[column].astype("float64")
    out.loc[rows, column] = values
    return out


def outside(series: pd.Series, fence: dict) -> np.ndarray:
    """Values outside the fences (missing ones never; zeros never where the fences were drawn without them)."""
    raw = series.to_numpy(dtype="float64", na_value=np.nan)
    found = (raw < fence["lower"]) | (raw > fence["upper"])
    return found & (raw != 0) if fence["zeros_kept"] else found


def fenced(series: pd.Series, fence: dict, strategy: str) -> pd.Series:
    return handled(series, outside(series, fence), fence["lower"], fence["upper"], strategy)[0]


def written(frame: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    """The table as the service's CSV writes it: dates in the column's own format (else ISO), true/false."""
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if col in formats:
            out[col] = series.dt.strftime(formats[col])
        elif pd.api.types.is_datetime64_any_dtype(series):
            whole = series.dropna()
            out[col] = series.dt.strftime("%Y-%m-%d" if (whole == whole.dt.normalize()).all() else "%Y-%m-%d %H:%M:%S")
        elif pd.api.types.is_bool_dtype(series):
            out[col] = series.map({True: "true", False: "false"}).astype(object)
    return out
