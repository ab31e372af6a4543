"""The steps of an exported plan script (plan.py): a run's decisions applied again in plain pandas and numpy.

script.py copies these functions into the script, with the pipeline's own functions they call (it lists
them), so they may use pandas, numpy and the standard library only, and names from that list.
"""
from __future__ import annotations

import re
import warnings

import pandas as pd

from .dates import parse_times, read_distinct
from .distinct import remap
from .coerce import _variant_key, is_text, trimmed
from .export import FORMULA, NUMBER, formula_like
from .numbers import _SYMBOLS
from .load import _unique_names, csv_options
from .outliers import handled, outside
from .units import _BARE, _read

# [0-9], not \d: Python's \d (and float()) would read other scripts' digits, which the service does not.
PLAIN = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
GROUPED = re.compile(r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$")


def read_table(path: str, how: dict) -> pd.DataFrame:
    """The raw file as the service read it: its delimiter, encoding and missing tokens; codes kept as text."""
    frame = pd.read_csv(path, low_memory=False, dtype={name: "str" for name in how["text_columns"]},
                        **csv_options(how["delimiter"], how["encoding"], how["missing_tokens"]))
    frame.columns = _unique_names(frame.columns)
    return frame


def trim(series: pd.Series) -> pd.Series:
    """The text cells trimmed (coerce.trimmed); the column unchanged when none has whitespace around it."""
    text = series.dropna().astype("str")
    stripped = trimmed(text)
    return stripped.reindex(series.index) if (stripped != text).any() else series


def read_numbers(values: pd.Series, decimal_comma: bool) -> pd.Series:
    """'$1,200', '12%', '(5.00)', '1 200' as numbers (with `decimal_comma`, '3,5' and '1.234,56'); else missing."""
    text = values.astype("str").str.strip()
    negative = text.str.match(r"^\(.*\)$")
    text = text.str.replace(r"^\((.*)\)$", r"\1", regex=True)
    for sign in (*_SYMBOLS, "%"):  # currency signs, digit-group spaces
        text = text.str.replace(sign, "", regex=False)
    if decimal_comma:
        grouped = text.str.contains(r"\.[0-9]{3}(?:,|$)", regex=True)
        text = text.where(~grouped, text.str.replace(".", "", regex=False)).str.replace(",", ".", regex=False)
    else:
        text = text.where(~text.str.fullmatch(GROUPED), text.str.replace(",", "", regex=False))
    numbers = pd.to_numeric(text.where(text.str.fullmatch(PLAIN)), errors="coerce").astype("float64")
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
    """ISO 8601 first, then the formats the service read this column with, then dateutil for a bounded rest."""
    text = values.astype("str").str.strip()
    unique = pd.Series(text.dropna().unique())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format" is expected
        parsed = read_distinct(unique, dayfirst, lambda rest: formats)[0]
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


def fenced(series: pd.Series, fence: dict, strategy: str) -> pd.Series:
    return handled(series, outside(series, **fence), fence["lower"], fence["upper"], strategy)[0]


def stamped(series: pd.Series) -> pd.Series:
    """Timestamps as 'YYYY-MM-DD HH:MM:SS', with a fraction only as fine as some value needs (as the service)."""
    ticks = pd.Series(series.to_numpy().astype("datetime64[ns]").astype("int64"), index=series.index)
    present = ticks[series.notna()]
    digits = next(d for d in (0, 3, 6, 9) if not (present % 10 ** (9 - d)).any())
    text = series.dt.strftime("%Y-%m-%d %H:%M:%S")
    if digits:
        text = text + "." + (ticks % 10**9 // 10 ** (9 - digits)).astype("str").str.zfill(digits)
    return text.where(series.notna())


def written(frame: pd.DataFrame, formats: dict[str, str], headers: dict[str, str], keep_formulas: bool = False
            ) -> pd.DataFrame:
    """The table as the service's CSV writes it: dates in the column's own format (else ISO), true/false, the
    file's own (empty) `headers`, and unless `keep_formulas` text a spreadsheet would run as a formula prefixed
    by ' (as the download does)."""
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if col in formats:
            out[col] = series.dt.strftime(formats[col])
        elif pd.api.types.is_datetime64_any_dtype(series):
            whole = series.dropna()
            out[col] = series.dt.strftime("%Y-%m-%d") if (whole == whole.dt.normalize()).all() else stamped(series)
        elif pd.api.types.is_bool_dtype(series):
            out[col] = series.map({True: "true", False: "false"}).astype(object)
        elif is_text(series) and not keep_formulas:
            live = series.str.match(FORMULA, na=False) & ~series.str.fullmatch(NUMBER, na=False)
            out[col] = series.where(~live, "'" + series)
    out = out.rename(columns=headers)
    if not keep_formulas:
        out.columns = ["'" + c if formula_like(c) else c for c in out.columns]
    return out
