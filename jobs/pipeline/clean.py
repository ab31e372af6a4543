"""Cleaning step: exact duplicate rows, columns too empty to keep, missing values (fast mode)."""
from __future__ import annotations

import pandas as pd

from .entries import column_stats, entry, plain

SKEW_LIMIT = 1.0


def drop_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    if frame.empty:
        return frame.copy(), []
    duplicated = frame.duplicated(keep="first")
    count = int(duplicated.sum())
    if not count:
        return frame.copy(), []
    out = frame.loc[~duplicated].reset_index(drop=True)
    return out, [entry("drop_duplicate_rows", count=count, before={"rows": len(frame)}, after={"rows": len(out)},
                       message=f"Removed {count:,} exact duplicate rows.")]


def drop_sparse_columns(frame: pd.DataFrame, threshold: float, keep: set[str]) -> tuple[pd.DataFrame, list[dict]]:
    """Drop columns whose missing share is above `threshold` (all-missing columns always go)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"drop_threshold must be in (0, 1]; got {threshold!r}")
    if frame.empty:
        return frame.copy(), []
    shares = frame.isna().mean()
    doomed = [c for c, share in shares.items()
              if (share > threshold or share == 1.0) and (c not in keep or share == 1.0)]
    logs = [entry("drop_column", column=c, count=int(frame[c].isna().sum()),
                  params={"missing_share": round(float(shares[c]), 4), "threshold": threshold},
                  message=f"{shares[c]:.0%} of values are missing (limit {threshold:.0%}): column dropped.")
            for c in doomed]
    return frame.drop(columns=doomed), logs


def fill_value(series: pd.Series) -> tuple[object, str, dict]:
    """The heuristic fill for one column: (value, method, evidence)."""
    values = series.dropna()
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        counts = values.value_counts()
        top = counts.index[0]
        return top, "mode", {"mode_share": round(float(counts.iloc[0]) / len(values), 4)}
    skew = float(values.skew()) if len(values) > 2 else 0.0
    skew = 0.0 if pd.isna(skew) else skew
    method = "median" if abs(skew) > SKEW_LIMIT else "mean"
    value = float(values.median() if method == "median" else values.mean())
    integral = bool((values == values.round()).all())
    if integral:
        value = round(value)
    return value, method, {"skew": round(skew, 4), "integer_valued": integral}


def impute_missing(frame: pd.DataFrame, *, indicators: bool = False) -> tuple[pd.DataFrame, list[dict]]:
    """Fill every missing cell: mean (or median when skewed) for numbers, the mode otherwise."""
    out = frame.copy()
    logs: list[dict] = []
    for col in frame.columns:
        series = frame[col]
        missing = int(series.isna().sum())
        if not missing or missing == len(series):
            continue
        value, method, evidence = fill_value(series)
        filled = series.fillna(value)
        if evidence.get("integer_valued") and pd.api.types.is_float_dtype(filled):
            filled = filled.astype("int64")
        if indicators:
            out[f"{col}_was_missing"] = series.isna().astype("int8")
        out[col] = filled
        logs.append(entry(f"impute_{method}", column=col, count=missing,
                          params={"value": plain(value), **evidence, "indicator": indicators},
                          before=column_stats(series), after=column_stats(filled),
                          message=f"Filled {missing:,} missing values with the {method} ({plain(value)})."))
    return out, logs
