"""Log entry helpers shared by the pipeline steps: one shape for every step's log."""
from __future__ import annotations

import math

import pandas as pd


def entry(action: str, *, column: str | None = None, count: int = 0, params: dict | None = None,
          before: dict | None = None, after: dict | None = None, message: str = "",
          source: str = "heuristic") -> dict:
    return {"column": column, "action": action, "count": int(count), "params": params or {},
            "source": source, "before": before, "after": after, "message": message}


def plain(value):
    """A JSON-safe Python value (no numpy scalars, no NaN/inf, timestamps as ISO text)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (int, bool, str)):
        return value
    return str(value)


def column_stats(series: pd.Series) -> dict:
    """Small before/after statistics for a log entry."""
    stats = {"dtype": str(series.dtype), "missing": int(series.isna().sum())}
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.dropna()
        if len(values):
            stats.update(mean=plain(values.mean()), median=plain(values.median()),
                         min=plain(values.min()), max=plain(values.max()))
    else:
        stats["distinct"] = int(series.nunique(dropna=True))
    return stats
