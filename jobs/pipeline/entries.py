"""Log entry helpers shared by the pipeline steps: one shape for every step's log, long values cut for showing."""
from __future__ import annotations

import math
from typing import TypedDict

import numpy as np
import pandas as pd

MAX_VALUE = 200  # characters of a cell value or column name in logs, statistics, reports and pages (data keeps all)
MAX_PROSE = 1000  # a message or explanation, which may quote a few values
PROSE = frozenset({"message", "reasoning", "reason", "explanation", "why", "evidence", "advisor_error"})


class LogEntry(TypedDict):
    """The one shape of a step's log entry (checked exactly by the contract test)."""
    column: str | None
    action: str
    count: int  # cells or rows changed (or reported)
    params: dict  # what the step learned or used: plain JSON values
    source: str  # "heuristic" or "advisor"
    before: dict | None
    after: dict | None
    message: str


def entry(action: str, *, column: str | None = None, count: int = 0, params: dict | None = None,
          before: dict | None = None, after: dict | None = None, message: str = "",
          source: str = "heuristic") -> LogEntry:
    return LogEntry(column=column, action=action, count=int(count), params=params or {}, source=source,
                    before=before, after=after, message=message)


def plain(value, digits: int | None = 6):
    """A JSON-safe Python value (no numpy scalars, no NaN/inf, timestamps as ISO text); floats rounded to
    `digits` for showing (None: kept exact, for a value a plan applies again)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        return None if not math.isfinite(value) else value if digits is None else round(value, digits)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (int, bool, str)):
        return value
    return str(value)


def is_number(series: pd.Series) -> bool:
    """Numbers, booleans aside."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def column_stats(series: pd.Series) -> dict:
    """Small before/after statistics for a log entry."""
    stats = {"dtype": str(series.dtype), "missing": int(series.isna().sum())}
    if is_number(series):
        # On the NumPy array: pandas' reductions cost a few ms each in overhead, and every step logs these.
        values = series.to_numpy() if isinstance(series.dtype, np.dtype) else series.dropna().to_numpy()
        if values.dtype.kind == "f":
            values = values[~np.isnan(values)]
        if len(values):
            stats.update(mean=plain(values.mean()), median=plain(np.median(values)),
                         min=plain(values.min()), max=plain(values.max()))
    else:
        stats["distinct"] = int(series.nunique(dropna=True))
    return stats


def short(text: str, limit: int = MAX_VALUE) -> str:
    """At most `limit` characters, cut with an ellipsis."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def bounded(value, limit: int = MAX_VALUE):
    """A copy to show or store (a log entry, a sample row): strings cut to MAX_VALUE, prose fields to MAX_PROSE."""
    if isinstance(value, str):
        return short(value, limit)
    if isinstance(value, dict):
        return {short(k) if isinstance(k, str) else k: bounded(v, MAX_PROSE if k in PROSE else MAX_VALUE)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bounded(v, limit) for v in value]
    return value
