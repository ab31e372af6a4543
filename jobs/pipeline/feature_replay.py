"""Features as a plan fixed them: the same columns, encoders and scaler parameters on a new batch."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .entries import entry, plain
from .features import TRUE_WORDS, level_keys, minutes_of_day, scaled, text_lengths, whole_numbers


def _levels(series: pd.Series, integers: bool) -> pd.Series:
    """Each row's level name, as the feature step names levels (features.level_keys)."""
    if integers and whole_numbers(series):
        series = series.astype("Int64")  # a code read as float because of gaps, as _code reads it
    codes, names = level_keys(series)
    return pd.Series(np.asarray(names, dtype=object)[codes] if len(names) else [], index=series.index,
                     dtype=object)


def _scaled(values: np.ndarray, params: dict) -> np.ndarray:
    """log1p, then the scaler with the plan's parameters."""
    return scaled(np.log1p(values) if params.get("log1p") else values, params)


def _bool_values(series: pd.Series, mapping: dict | None) -> np.ndarray:
    """0/1 by the plan's mapping of lower-cased text (None: the plan's batch held real booleans)."""
    if mapping is None:
        if pd.api.types.is_bool_dtype(series):
            return series.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        # The plan saw booleans; this batch's are still text: true words are 1, the rest 0.
        text = series.astype(str).str.strip().str.lower()
        return np.where(series.isna(), np.nan, text.isin(TRUE_WORDS).astype(float))
    text = series.astype(str).str.strip().str.lower().where(series.notna())
    return text.map(mapping).to_numpy(dtype=float, na_value=np.nan)


def _feature(series: pd.Series, spec: dict) -> tuple[np.ndarray, int]:
    """One feature column by its description, and how many rows held a value the plan never saw."""
    transform, params = spec["transform"], spec.get("params") or {}
    if transform == "one_hot":
        levels = _levels(series, params.get("whole_numbers", False))
        unseen = int((~levels.isin(params["levels"])).sum())
        return (levels == params["level"]).to_numpy(dtype=np.int8), unseen
    if transform == "frequency":
        levels = _levels(series, params.get("whole_numbers", False))
        if params.get("truncated"):  # the plan kept the commonest levels only: shares of this batch
            return levels.map(levels.value_counts(normalize=True)).to_numpy(dtype=float), 0
        table = params["frequencies"]
        unseen = int((~levels.isin(table)).sum())
        return levels.map(table).fillna(params.get("unseen", 0.0)).to_numpy(dtype=float), unseen
    if transform == "date_part":
        dates = (series if pd.api.types.is_datetime64_any_dtype(series)
                 else pd.to_datetime(series, errors="coerce", format="mixed")).dt
        values = getattr(dates, "day_of_week" if params["part"] == "dayofweek" else params["part"])
        return values.to_numpy(dtype=np.int32 if not values.isna().any() else float), 0
    if transform == "bool_int":
        values = _bool_values(series, params.get("mapping"))
        return (values.astype(np.int8) if not np.isnan(values).any() else values), 0
    if transform.startswith("minutes"):
        return _scaled(minutes_of_day(series), params), 0
    if transform == "length":
        return text_lengths(series), 0
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return _scaled(numbers, params), 0


def replay_features(frame: pd.DataFrame, descriptions: list[dict], target: str | None
                    ) -> tuple[pd.DataFrame, list[dict], list[dict]]:
    """The plan's feature table on this batch: (features, log entries, descriptions). A feature whose column is
    gone is left missing, and values the encoders never saw are counted, both logged."""
    columns, logs, unseen = {}, [], {}
    for spec in descriptions:
        name, (source,) = spec["name"], spec["source"]
        if spec.get("kind") == "output":
            if source in frame:
                columns[name] = frame[source].array
            continue
        if source not in frame:
            columns[name] = np.full(len(frame), np.nan)
            logs.append(entry("feature_input_missing", column=plain(source), params={"feature": name},
                              source="plan", message=f"Feature {name} left missing: column {source!r} is gone."))
            continue
        columns[name], count = _feature(frame[source], spec)
        if count:
            unseen[source] = max(unseen.get(source, 0), count)
    for source, count in unseen.items():
        logs.append(entry("unseen_levels", column=plain(source), count=count, source="plan",
                          params={"rows": count},
                          message=f"{count:,} rows hold a {source} value the plan's encoder never saw: "
                                  f"encoded as no known level."))
    logs.insert(0, entry("apply_feature_plan", count=len(columns), source="plan",
                         params={"features": len(columns)},
                         message=f"Built the plan's {len(columns)} features with its encoders and scalers."))
    return pd.DataFrame(columns, index=frame.index), logs, descriptions
