"""Feature step: turn a cleaned frame into model-ready numeric columns, with logs and feature descriptions."""
from __future__ import annotations

import numbers
import re

import numpy as np
import pandas as pd

from .entries import entry, plain
from .profile import column_role, skewness

# Until profile.ROLES lists the extended roles, the feature step accepts them itself.
ROLES = ("id", "code", "constant", "numeric", "coordinate", "boolean", "datetime", "time", "categorical", "text")
SCALINGS = ("standard", "minmax", "none")
MISSING = "missing"  # level name given to missing categorical values
FREQUENCY_TABLE_MAX = 50  # levels stored in a frequency description; more would bloat the JSON log
CODE_UNIQUE_SHARE = 0.95  # a code with this share of distinct values is dropped, like an id
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0", "on"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", "off"}
DATE_PARTS = {"year": "year", "month": "month (1-12)", "day": "day of the month", "dayofweek":
               "day of the week (0 = Monday)", "hour": "hour (0-23)"}
_UNSAFE = re.compile(r"[^\w]+")  # \w: letters, digits and underscore (Unicode letters included)
_CLOCK = r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*(?:([AaPp])\.?\s*[Mm]\.?)?\s*$"


def _fmt(value) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.4g}"


def _describe(name, col, transform: str, text: str, params: dict | None = None, kind: str = "input") -> dict:
    return {"name": plain(name), "kind": kind, "source": [plain(col)], "transform": transform,
            "description": text, "params": params or {}}


def _slugs(levels: list[str]) -> list[str]:
    """Name-safe, distinct level parts: 'Left at door, signed' → 'left_at_door_signed'; '' → 'blank'."""
    used: set[str] = set()
    out = []
    for level in levels:
        base = _UNSAFE.sub("_", level.lower()).strip("_") or "blank"
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}_{n}", n + 1
        used.add(slug)
        out.append(slug)
    return out


def whole_numbers(series: pd.Series) -> bool:
    """A float column holding whole numbers only: a code read as float because of gaps (ZIP 8540.0)."""
    present = series.dropna()
    return pd.api.types.is_float_dtype(series) and bool((present == present.round()).all())


def level_keys(series: pd.Series) -> tuple[np.ndarray, list[str]]:
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
    for j, (level, slug) in enumerate(zip(levels, _slugs(levels))):
        outputs[f"{col}={slug}"] = (matrix[:, j], _describe(
            f"{col}={slug}", col, "one_hot", f"1 when {col} is {level!r}, else 0",
            {"level": level, "levels": levels}))
    log = entry("one_hot", column=plain(col), count=len(levels), params={"levels": levels},
                message=f"One-hot encoded {len(levels)} levels into int8 columns.")
    return outputs, log


def _frequency(series: pd.Series, col, codes: np.ndarray, names: list[str], onehot_max: int):
    counts = np.bincount(codes, minlength=len(names))
    shares = counts / max(len(codes), 1)
    top = np.argsort(-counts, kind="stable")[:FREQUENCY_TABLE_MAX]
    table = {names[i]: plain(shares[i], None) for i in top}  # exact: a plan encodes the next batch with it
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
    codes, names = level_keys(series)
    if len(names) <= onehot_max:
        return _one_hot(series, col, codes, names)
    return _frequency(series, col, codes, names, onehot_max)


def _code(series: pd.Series, col, onehot_max: int):
    """Codes are labels, not quantities: encoded as categories, or dropped when nearly every value differs."""
    present = series.dropna()
    whole = whole_numbers(series)
    if whole:
        series = series.astype("Int64")  # ZIP 8540.0 (a float because of gaps) is the level "8540"
    distinct = int(present.nunique())
    if len(present) >= 2 and distinct >= CODE_UNIQUE_SHARE * len(present):
        share = distinct / len(present)
        return {}, entry("drop_near_unique_code", column=plain(col), count=0,
                         params={"role": "code", "distinct": distinct, "present": int(len(present)),
                                 "unique_share": round(share, 4), "limit": CODE_UNIQUE_SHARE},
                         message=f"Dropped: {share:.0%} of its codes are distinct, so like an id it carries "
                                 f"no signal as a feature.")
    outputs, log = _categorical(series, col, onehot_max)
    log["params"]["role"] = "code"
    if whole:  # a plan's replay reads the next batch's floats the same way
        for _, described in outputs.values():
            described["params"]["whole_numbers"] = True
    return outputs, log


def _boolean(series: pd.Series, col, onehot_max: int):
    if pd.api.types.is_bool_dtype(series):  # gaps left missing stay NaN: 1, 0 or unknown
        values = series.to_numpy(dtype=np.int8) if not series.isna().any() else \
            series.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        mapping = None
    else:
        text = series.dropna().astype(str).str.strip().str.lower()
        distinct = sorted(text.unique())
        if set(distinct) <= TRUE_WORDS | FALSE_WORDS:
            mapping = {v: int(v in TRUE_WORDS) for v in distinct}
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
        outputs[name] = (values, _describe(name, col, "date_part", f"{DATE_PARTS[part]} of {col}", {"part": part}))
    log = entry("date_parts", column=plain(col), count=len(parts), params={"parts": parts},
                message=f"Date split into {', '.join(parts)}; original column dropped.")
    return outputs, log


def minutes_of_day(series: pd.Series) -> np.ndarray:
    """Minutes since midnight: 'HH:MM[:SS]' text (a trailing a.m./p.m. allowed), times or timestamps; else NaN."""
    if pd.api.types.is_timedelta64_dtype(series):
        return (series.dt.total_seconds() / 60).to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(series):
        clock = series - series.dt.normalize()
        return (clock.dt.total_seconds() / 60).to_numpy(dtype=float, na_value=np.nan)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)  # times repeat: parse each distinct value once
    parts = pd.Series(np.asarray(uniques, dtype=object)).astype(str).str.extract(_CLOCK)
    hour, minute = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
    second = pd.to_numeric(parts[2]).fillna(0.0)
    half = parts[3].str.lower()
    twelve = half.notna()
    valid = (minute < 60) & (second < 60) & np.where(twelve, (hour >= 1) & (hour <= 12), hour < 24)
    hour = np.where(twelve, hour % 12 + np.where(half == "p", 12, 0), hour)
    found = ((hour * 60 + minute + second / 60).where(valid)).to_numpy(dtype=float, na_value=np.nan)
    return np.where(codes >= 0, found[np.maximum(codes, 0)] if len(found) else np.nan, np.nan)


def scaled(values: np.ndarray, params: dict) -> np.ndarray:
    """`values` through a fitted scaler's parameters (mean/std or min/max; none: unchanged). A column with one
    value (or one row, or none) carries no spread: 0 keeps it finite instead of NaN."""
    flat = np.where(np.isnan(values), np.nan, 0.0)
    if "mean" in params:
        mean, std = params["mean"], params.get("std")
        return (values - mean) / std if mean is not None and std is not None and std > 0 else flat
    if "min" in params:
        low, high = params["min"], params.get("max")
        return (values - low) / (high - low) if low is not None and high is not None and high > low else flat
    return values


def _scale(values: np.ndarray, scaling: str, label: str) -> tuple[np.ndarray, dict, str]:
    present = values[~np.isnan(values)]
    if scaling == "standard":
        mean = float(present.mean()) if len(present) else np.nan
        std = float(present.std()) if len(present) else np.nan  # ddof=0, as in common standard scalers
        params = {"mean": plain(mean, None), "std": plain(std, None), "ddof": 0}  # exact: a plan reapplies them
        return scaled(values, params), params, f"{label}, then standardised (mean {_fmt(mean)}, std {_fmt(std)})"
    if scaling == "minmax":
        low = float(present.min()) if len(present) else np.nan
        high = float(present.max()) if len(present) else np.nan
        params = {"min": plain(low, None), "max": plain(high, None)}
        return scaled(values, params), params, f"{label}, then scaled to [0, 1] (min {_fmt(low)}, max {_fmt(high)})"
    return values, {}, label


def _numeric(series: pd.Series, col, scaling: str, skew_limit: float, log_allowed: bool = True):
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    present = values[~np.isnan(values)]
    skew = skewness(pd.Series(present))
    # Log only helps long right tails, and log1p keeps its meaning only for positive values.
    logged = bool(log_allowed and len(present) and present.min() > 0 and skew > skew_limit)
    if logged:
        values = np.log1p(values)
    name = f"log1p_{col}" if logged else col
    label = f"log1p of {col}" if logged else str(col)
    values, scaled, text = _scale(values, scaling, label)
    params: dict = {"log1p": logged, **scaled}
    if scaling == "none" and not logged:
        text = f"{col}, unchanged"
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


def _time(series: pd.Series, col, scaling: str):
    minutes = minutes_of_day(series)
    unparsed = int((series.notna().to_numpy() & np.isnan(minutes)).sum())
    name = f"{col}_minutes"
    values, params, text = _scale(minutes, scaling, f"minutes since midnight of {col}")
    transform = "+".join(["minutes"] + ([f"{scaling}_scale"] if scaling != "none" else []))
    log = entry("time_minutes", column=plain(col), count=1, params={**params, "scaling": scaling,
                                                                      "unparsed": unparsed},
                message=f"Time of day replaced by {text}" + (f"; {unparsed} unreadable values left missing."
                                                             if unparsed else "."))
    return {name: (values, _describe(name, col, transform, text, params))}, log


def text_lengths(series: pd.Series) -> np.ndarray:
    """Characters per value (missing stays missing): integers when no value is missing."""
    lengths = series.astype(str).str.len().where(series.notna())
    return lengths.to_numpy(dtype=np.int64 if not lengths.isna().any() else float)


def _text(series: pd.Series, col):
    values = text_lengths(series)
    name = f"{col}_length"
    described = _describe(name, col, "length", f"number of characters in {col}")
    log = entry("text_length", column=plain(col), count=1,
                message="Free text replaced by its length in characters; original column dropped.")
    return {name: (values, described)}, log


def _constant(values: np.ndarray):
    """(True, the value) when a derived feature takes one value on every row (missing values aside)."""
    values = np.asarray(values)
    present = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    if not len(present):
        return True, None
    return bool(present.min() == present.max()), present[0]


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


def _encode(series: pd.Series, col, role: str, scaling: str, onehot_max: int, skew_limit: float):
    if role in ("numeric", "coordinate"):  # a latitude's skew is geography, not a tail to log away
        return _numeric(series, col, scaling, skew_limit, log_allowed=role == "numeric")
    if role == "code":
        return _code(series, col, onehot_max)
    if role == "time":
        return _time(series, col, scaling)
    if role == "boolean":
        return _boolean(series, col, onehot_max)
    if role == "datetime":
        return _datetime(series, col)
    if role == "text":  # the only role that yields *_length: codes, ids and categories never do
        return _text(series, col)
    return _categorical(series, col, onehot_max)


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
        outputs, log = _encode(series, col, role, scaling, onehot_max, skew_limit)
        dropped = []
        for name, (values, described) in outputs.items():
            # A derived feature with one value on every row teaches a model nothing (one row proves nothing).
            same, value = _constant(values) if len(frame) > 1 and role not in ("numeric", "coordinate") \
                else (False, None)
            if same:
                dropped.append(entry("drop_constant_feature", column=plain(col), count=0,
                                     params={"feature": plain(name), "value": plain(value),
                                             "transform": described["transform"]},
                                     message=f"Dropped feature {name}: it is {plain(value)!r} on every row."))
                continue
            unique, n = name, 2
            while unique in taken:  # e.g. an input column already called "x_year" next to date "x"
                unique, n = f"{name}_{n}", n + 1
            taken.add(unique)
            columns[unique] = values
            descriptions.append({**described, "name": plain(unique)})
        if log is not None:
            if dropped:
                log["count"] = len(outputs) - len(dropped)
                log["params"]["dropped_constant"] = [e["params"]["feature"] for e in dropped]
            logs.append(log)
        logs.extend(dropped)

    if target is not None:
        columns[target] = frame[target].array  # .array: no index alignment, dtype kept
        descriptions.append(_describe(target, target, "identity", f"target {target}, kept unchanged",
                                      kind="output"))
    out = pd.DataFrame(columns, index=frame.index) if columns else pd.DataFrame(index=frame.index)
    return out, logs, descriptions
