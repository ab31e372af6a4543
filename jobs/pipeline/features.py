"""Feature step: turn a cleaned frame into model-ready numeric columns, with logs and feature descriptions."""
from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .entries import entry, plain
from .profile import ROLES, column_role, skewness

SCALINGS = ("standard", "minmax", "none")
MISSING = "missing"  # level name given to missing categorical values
FREQUENCY_TABLE_MAX = 50  # levels stored in a frequency description; more would bloat the JSON log
_TRUE = {"true", "t", "yes", "y", "1", "1.0", "on"}
_FALSE = {"false", "f", "no", "n", "0", "0.0", "off"}
_DATE_PARTS = {"year": "year", "month": "month (1-12)", "day": "day of the month", "dayofweek":
               "day of the week (0 = Monday)", "hour": "hour (0-23)"}


def _fmt(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.4g}"


def _describe(name, col, transform: str, text: str, params: dict | None = None, kind: str = "input") -> dict:
    return {"name": plain(name), "kind": kind, "source": [plain(col)], "transform": transform,
            "description": text, "params": params or {}}


def _level_keys(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and their level names; missing values form their own level."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    names = [str(u) for u in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(names), codes)
        names.append(MISSING)
    return codes, names


def _one_hot(series: pd.Series, col, codes: np.ndarray, names: list[str]):
    order = sorted(range(len(names)), key=lambda i: names[i])
    levels = [names[i] for i in order]
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    matrix = (rank[codes][:, None] == np.arange(len(levels))).astype(np.int8)
    outputs = {}
    for j, level in enumerate(levels):
        outputs[f"{col}={level}"] = (matrix[:, j], _describe(
            f"{col}={level}", col, "one_hot", f"1 when {col} is {level!r}, else 0",
            {"level": level, "levels": levels}))
    log = entry("one_hot", column=plain(col), count=len(levels), params={"levels": levels},
                message=f"One-hot encoded {len(levels)} levels into int8 columns.")
    return outputs, log


def _frequency(series: pd.Series, col, codes: np.ndarray, names: list[str], onehot_max: int):
    counts = np.bincount(codes, minlength=len(names))
    shares = counts / max(len(codes), 1)
    top = np.argsort(-counts, kind="stable")[:FREQUENCY_TABLE_MAX]
    table = {names[i]: plain(shares[i]) for i in top}
    params = {"frequencies": table, "levels": len(names), "truncated": len(names) > FREQUENCY_TABLE_MAX,
              "unseen": 0.0}
    name = f"{col}_freq"
    described = _describe(name, col, "frequency", f"share of rows with the same {col} value ({len(names)} levels)",
                          params)
    log = entry("frequency_encode", column=plain(col), count=1,
                params={"levels": len(names), "onehot_max": onehot_max},
                message=f"{len(names)} levels is above the one-hot limit of {onehot_max}: "
                        f"replaced by each value's share of rows.")
    return {name: (shares[codes], described)}, log


def _categorical(series: pd.Series, col, onehot_max: int):
    codes, names = _level_keys(series)
    if len(names) <= onehot_max:
        return _one_hot(series, col, codes, names)
    return _frequency(series, col, codes, names, onehot_max)


def _boolean(series: pd.Series, col, onehot_max: int):
    if pd.api.types.is_bool_dtype(series) and not series.isna().any():
        values, mapping = series.to_numpy(dtype=np.int8), None
    else:
        text = series.dropna().astype(str).str.strip().str.lower()
        distinct = sorted(text.unique())
        if set(distinct) <= _TRUE | _FALSE:
            mapping = {v: int(v in _TRUE) for v in distinct}
        elif len(distinct) <= 2:
            # Two arbitrary labels (say "M"/"F"): alphabetical order decides which is 1, recorded for re-use.
            mapping = {v: i for i, v in enumerate(distinct)}
        else:
            return _categorical(series, col, onehot_max)
        mapped = text.map(mapping).reindex(series.index)
        values = mapped.to_numpy(dtype=np.int8) if not mapped.isna().any() else mapped.to_numpy(dtype=float)
    params = {"mapping": mapping} if mapping else {}
    described = _describe(col, col, "bool_int", f"{col} as 1 (true) or 0 (false)", params)
    log = entry("bool_to_int", column=plain(col), count=1, params=params, message="Booleans written as 0/1.")
    return {col: (values, described)}, log


def _datetime(series: pd.Series, col):
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series, errors="coerce", format="mixed")
    dates = series.dt
    parts = ["year", "month", "day", "dayofweek"]
    clock = series - dates.normalize()
    if bool((clock.dropna() != pd.Timedelta(0)).any()):
        parts.append("hour")
    outputs = {}
    for part in parts:
        values = getattr(dates, "day_of_week" if part == "dayofweek" else part)  # dayofweek is deprecated
        values = values.to_numpy(dtype=np.int32 if not values.isna().any() else float)
        name = f"{col}_{part}"
        outputs[name] = (values, _describe(name, col, "date_part", f"{_DATE_PARTS[part]} of {col}", {"part": part}))
    log = entry("date_parts", column=plain(col), count=len(parts), params={"parts": parts},
                message=f"Date split into {', '.join(parts)}; original column dropped.")
    return outputs, log


def _text(series: pd.Series, col):
    lengths = series.astype(str).str.len().where(series.notna())
    values = lengths.to_numpy(dtype=np.int64 if not lengths.isna().any() else float)
    name = f"{col}_length"
    described = _describe(name, col, "length", f"number of characters in {col}")
    log = entry("text_length", column=plain(col), count=1,
                message="Free text replaced by its length in characters; original column dropped.")
    return {name: (values, described)}, log


def _numeric(series: pd.Series, col, scaling: str, skew_limit: float):
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = values[~np.isnan(values)]
    skew = skewness(pd.Series(present))
    # Log only helps long right tails, and log1p keeps its meaning only for positive values.
    logged = bool(len(present) and present.min() > 0 and skew > skew_limit)
    if logged:
        values = np.log1p(values)
        present = np.log1p(present)
    name = f"log1p_{col}" if logged else col
    label = f"log1p of {col}" if logged else str(col)
    params: dict = {"log1p": logged}
    if scaling == "standard":
        mean = float(present.mean()) if len(present) else np.nan
        std = float(present.std()) if len(present) else np.nan  # ddof=0, as in common standard scalers
        # A column with one value (or one row) carries no spread; 0 keeps it finite instead of NaN.
        values = (values - mean) / std if std > 0 else np.where(np.isnan(values), np.nan, 0.0)
        params.update(mean=plain(mean), std=plain(std), ddof=0)
        text = f"{label}, then standardised (mean {_fmt(mean)}, std {_fmt(std)})"
    elif scaling == "minmax":
        low = float(present.min()) if len(present) else np.nan
        high = float(present.max()) if len(present) else np.nan
        span = high - low
        values = (values - low) / span if span > 0 else np.where(np.isnan(values), np.nan, 0.0)
        params.update(min=plain(low), max=plain(high))
        text = f"{label}, then scaled to [0, 1] (min {_fmt(low)}, max {_fmt(high)})"
    else:
        text = label if logged else f"{col}, unchanged"
    steps = (["log1p"] if logged else []) + ([f"{scaling}_scale"] if scaling != "none" else [])
    transform = "+".join(steps) or "identity"
    outputs = {name: (values, _describe(name, col, transform, text, params))}
    if not steps:
        return outputs, None
    action = "log_transform" if logged else f"scale_{scaling}"
    log = entry(action, column=plain(col), count=1, params={**params, "skew": round(skew, 4),
                                                             "skew_limit": skew_limit, "scaling": scaling},
                message=f"Replaced by {text}.")
    return outputs, log


def _check(frame: pd.DataFrame, target, roles, scaling, onehot_max, skew_limit) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be 'standard', 'minmax' or 'none'; got {scaling!r}")
    if isinstance(onehot_max, bool) or not isinstance(onehot_max, numbers.Integral) or onehot_max < 0:
        raise ValueError(f"onehot_max must be a whole number >= 0; got {onehot_max!r}")
    if isinstance(skew_limit, bool) or not isinstance(skew_limit, numbers.Real) or not np.isfinite(skew_limit):
        raise ValueError(f"skew_limit must be a finite number; got {skew_limit!r}")
    if frame.columns.has_duplicates:
        duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise ValueError(f"column names must be unique; repeated: {duplicated}")
    if target is not None and target not in frame.columns:
        raise ValueError(f"target {target!r} is not a column of the frame")
    bad = {c: r for c, r in (roles or {}).items() if r not in ROLES}
    if bad:
        raise ValueError(f"roles must be one of {', '.join(ROLES)}; got {bad!r}")


def engineer_features(frame: pd.DataFrame, *, target: str | None = None, roles: dict[str, str] | None = None,
                      scaling: str = "standard", onehot_max: int = 10, skew_limit: float = 1.0,
                      ) -> tuple[pd.DataFrame, list[dict], list[dict]]:
    """Model-ready copy of a cleaned frame: (features frame, log entries, feature descriptions)."""
    _check(frame, target, roles, scaling, onehot_max, skew_limit)
    roles = roles or {}  # roles for columns no longer in the frame (dropped earlier) are simply unused
    columns: dict = {}
    logs: list[dict] = []
    descriptions: list[dict] = []
    taken = {target} if target is not None else set()

    for col in frame.columns:
        if col == target:
            continue
        series = frame[col]
        role = roles.get(col) or column_role(series, str(col))
        if role in ("id", "constant"):
            why = ("values look like row identifiers" if role == "id" else "a single value carries no information")
            logs.append(entry(f"drop_{'id_like' if role == 'id' else 'constant'}", column=plain(col), count=0,
                              params={"role": role}, message=f"Dropped: {why}."))
            continue
        if role == "numeric":
            outputs, log = _numeric(series, col, scaling, skew_limit)
        elif role == "boolean":
            outputs, log = _boolean(series, col, onehot_max)
        elif role == "datetime":
            outputs, log = _datetime(series, col)
        elif role == "text":
            outputs, log = _text(series, col)
        else:
            outputs, log = _categorical(series, col, onehot_max)
        for name, (values, described) in outputs.items():
            unique, n = name, 2
            while unique in taken:  # e.g. an input column already called "x_year" next to date "x"
                unique, n = f"{name}_{n}", n + 1
            taken.add(unique)
            columns[unique] = values
            descriptions.append({**described, "name": plain(unique)})
        if log is not None:
            logs.append(log)

    if target is not None:
        columns[target] = frame[target].array  # .array: no index alignment, dtype kept
        descriptions.append(_describe(target, target, "identity", f"target {target}, kept unchanged",
                                      kind="output"))
    out = pd.DataFrame(columns, index=frame.index) if columns else pd.DataFrame(index=frame.index)
    return out, logs, descriptions
