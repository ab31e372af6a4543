"""Column roles (id, constant, numeric, boolean, datetime, categorical, text) and their statistics."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .entries import plain

ROLES = ("id", "constant", "numeric", "boolean", "datetime", "categorical", "text")
_ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|guid|key)$|^(id|uuid|guid)([_\s.-]|$)", re.IGNORECASE)
_ID_VALUE = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,64})$",
                       re.IGNORECASE)
CATEGORY_MAX = 50  # distinct values above which a text column is free text, unless repeats dominate


def id_evidence(series: pd.Series, name: str) -> str | None:
    """Why a column looks like an identifier, or None."""
    values = series.dropna()
    if len(values) < 2 or pd.api.types.is_bool_dtype(series) or pd.api.types.is_float_dtype(series) and \
            not (values == values.round()).all():
        return None
    unique_share = values.nunique() / len(values)
    if _ID_NAME.search(str(name)) and unique_share >= 0.95:
        return f"name {name!r} and {unique_share:.0%} unique values"
    if unique_share < 1.0:
        return None
    if pd.api.types.is_numeric_dtype(series) and len(values) >= 20 and \
            (values.is_monotonic_increasing or values.is_monotonic_decreasing) and \
            (np.diff(values.to_numpy()[:1000]) != 0).all() and abs(values.diff().median()) == 1:
        return "unique integers increasing by 1 (a row counter)"
    if not pd.api.types.is_numeric_dtype(series):
        sample = values.astype("str").head(200)
        share = sample.str.match(_ID_VALUE.pattern, case=False).mean()
        if share >= 0.95:
            return f"{share:.0%} of values look like UUIDs or hashes"
    return None


def column_role(series: pd.Series, name: str) -> str:
    values = series.dropna()
    if values.nunique() <= 1:
        return "constant"
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if id_evidence(series, name):
        return "id"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    distinct = values.nunique()
    if distinct <= CATEGORY_MAX or distinct <= 0.2 * len(values):
        return "categorical"
    return "text"


def skewness(series: pd.Series) -> float:
    values = series.dropna()
    if len(values) < 3:
        return 0.0
    value = float(values.skew())
    return 0.0 if not np.isfinite(value) else value


def profile_column(series: pd.Series, name: str, sample_size: int = 5) -> dict:
    """Statistics the advisor, the logs and the report use; plain JSON-safe values."""
    values = series.dropna()
    role = column_role(series, name)
    stats = {"column": name, "role": role, "dtype": str(series.dtype), "count": int(len(values)),
             "missing": int(series.isna().sum()),
             "missing_share": round(float(series.isna().mean()), 4) if len(series) else 0.0,
             "distinct": int(values.nunique())}
    if role == "numeric" and len(values):
        stats.update(mean=plain(values.mean()), std=plain(values.std()), min=plain(values.min()),
                     median=plain(values.median()), max=plain(values.max()), skew=round(skewness(series), 4))
    elif len(values):
        counts = values.value_counts().head(5)
        stats["top_values"] = [{"value": plain(k), "count": int(v)} for k, v in counts.items()]
    stats["sample_values"] = [plain(v) for v in values.drop_duplicates().head(sample_size)]
    if role == "id":
        stats["id_evidence"] = id_evidence(series, name)
    return stats


def profile_frame(frame: pd.DataFrame) -> dict[str, dict]:
    return {str(col): profile_column(frame[col], str(col)) for col in frame.columns}
