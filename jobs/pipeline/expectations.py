"""Expectations learned from a cleaned table (types, categories, ranges, gaps, keys, dependencies) and checks of new data."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .entries import plain

MAX_ALLOWED = 50  # categories listed as allowed values; a column with more is not a closed set
SHOWN_ROWS = 20  # offending row ids per violation (the count says how many in all)
MISSING_MARGIN = 0.05  # a batch may have this much more of a column missing than the plan's batch had...
BROKEN_MARGIN = 0.01  # ...and this much more of its rows may break a dependency the plan learned
CLOSED_ROLES = ("categorical", "boolean", "code")
FAR_OUT = 3.0  # IQRs beyond the quartiles that a plausible range reaches (Tukey's "far out")
KINDS = ("boolean", "integer", "number", "datetime", "text")


def kind_of(series: pd.Series) -> str:
    """The column's type as a plan names it: boolean, integer, number, datetime or text."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "text"


def learn(raw: pd.DataFrame, cleaned: pd.DataFrame, roles: dict[str, str], rules: list[dict],
          statistics: dict | None = None) -> dict:
    """What the next batch should look like, from this batch: per column type, allowed values, range, the
    largest share of gaps in the raw file, uniqueness for identifiers; the dependency rules; the columns.
    `statistics` (the EDA's, per column) saves counting distinct values and quartiles again."""
    columns = {}
    known = (statistics or {}).get("columns", {})
    for col in cleaned.columns:
        series, role, stats = cleaned[col], roles.get(col), known.get(col, {})
        values = series.dropna()
        found: dict = {"type": kind_of(series), "role": role}
        share = _missing_share(raw, col)
        found["max_missing"] = min(1.0, math.ceil((share + MISSING_MARGIN) * 100) / 100)
        closed = role in CLOSED_ROLES and found["type"] in ("text", "boolean")
        distinct = values.unique() if closed and stats.get("distinct", 0) <= MAX_ALLOWED else ()
        if 0 < len(distinct) <= MAX_ALLOWED:
            found["allowed"] = sorted(plain(v) for v in distinct)
        finite = values[np.isfinite(values.astype("float64"))] if found["type"] == "number" else values
        if found["type"] in ("integer", "number") and role not in ("id", "code") and len(finite):
            quartiles = (stats["p25"], stats["p75"]) if "p25" in stats and "p75" in stats else None
            found["range"] = plausible_range(finite, quartiles)
        if role == "id" and len(values) and values.is_unique:
            found["unique"] = True
        columns[col] = found
    dependencies = []
    for rule in rules:
        x, y = rule["determinant"], rule["dependent"]
        if x in cleaned and y in cleaned:
            broken, pairs = _broken(cleaned, x, y)
            share = broken.sum() / pairs if pairs else 0.0
            dependencies.append({"determinant": x, "dependent": y,
                                 "max_broken": min(1.0, math.ceil((share + BROKEN_MARGIN) * 1000) / 1000)})
    return {"columns": columns, "dependencies": dependencies}


def _broken(cleaned: pd.DataFrame, x: str, y: str) -> tuple[np.ndarray, int]:
    """Rows whose `y` differs from the commonest `y` of their `x` (both present), and how many rows have both."""
    pair = cleaned[[x, y]].dropna()
    mask = np.zeros(len(cleaned), dtype=bool)
    if len(pair):
        majority = pair.groupby(x, observed=True)[y].agg(lambda v: v.mode().iloc[0])
        mask[cleaned.index.get_indexer(pair.index)] = (pair[y] != pair[x].map(majority)).to_numpy(dtype=bool)
    return mask, len(pair)


def _missing_share(raw: pd.DataFrame, col: str) -> float:
    """The share of the column missing in the raw file (0 for a column the raw file does not have)."""
    return float(raw[col].isna().mean()) if col in raw and len(raw) else 0.0


def plausible_range(values: pd.Series, quartiles: tuple[float, float] | None = None) -> list:
    """The batch's values widened to Tukey's far-out fences (3 × IQR beyond the quartiles): a next batch varies,
    a value far outside is drift or an error. Never below zero for a column that has no negative value, and
    whole numbers for whole-number columns. (Dates get none: a weekly feed's dates are always new.)"""
    numbers = values.astype("float64")  # finite values: an infinity has no plausible range
    low, high = float(numbers.min()), float(numbers.max())
    q1, q3 = quartiles or numbers.quantile([0.25, 0.75])
    spread = FAR_OUT * float(q3 - q1)
    lower, upper = min(low, q1 - spread), max(high, q3 + spread)
    if low >= 0:
        lower = max(0.0, lower)
    if pd.api.types.is_integer_dtype(values) or (numbers == numbers.round()).all():
        return [int(math.floor(lower)), int(math.ceil(upper))]
    # Rounded outwards to six decimals: readable, and still holding every value of the batch.
    return [math.floor(lower * 1e6) / 1e6, math.ceil(upper * 1e6) / 1e6]


def _rows(mask: np.ndarray, ids: pd.Series | None, table: str = "cleaned") -> dict:
    """How many rows `mask` marks, and the first ones: 1-based data rows of `table` (the raw file or the
    cleaned download, whose duplicates are gone), and their identifiers when the plan knows a key column."""
    where = np.flatnonzero(mask)
    out = {"count": int(len(where)), "table": table, "rows": [int(i) + 1 for i in where[:SHOWN_ROWS]]}
    if ids is not None:
        out["ids"] = [plain(v) for v in ids.iloc[where[:SHOWN_ROWS]]]
    return out


def _values(count: int) -> str:
    return f"{count:,} value" + ("" if count == 1 else "s")


def _shown(bound) -> str:
    return f"{bound:.6g}" if isinstance(bound, float) else str(bound)


def _violation(rule: str, column: str | None, message: str, **found) -> dict:
    return {"rule": rule, "column": column, "message": message, **found}


def _comparable(series: pd.Series, bounds: list) -> bool:
    """A range this column can be held to: numbers for a number column, ISO dates for a date column."""
    kind = kind_of(series)
    if kind in ("integer", "number"):
        return all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
    return kind == "datetime" and all(isinstance(b, str) and pd.notna(pd.to_datetime(b, errors="coerce"))
                                      for b in bounds)


def _in_range(series: pd.Series, low, high) -> np.ndarray:
    """Values outside [low, high]; an infinity is measured by no range (as the range was learned without)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        low, high = pd.Timestamp(low), pd.Timestamp(high)
        zone = series.dt.tz  # a user's bounds may be naive or not: compared in the column's own terms
        low, high = ((t.tz_localize(zone) if t.tzinfo is None else t.tz_convert(zone)) if zone is not None
                     else (t.tz_convert(None) if t.tzinfo is not None else t) for t in (low, high))
        return (series.notna() & ((series < low) | (series > high))).to_numpy(dtype=bool)
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    return np.isfinite(values) & ((values < low) | (values > high))


def check(raw: pd.DataFrame, cleaned: pd.DataFrame, expected: dict) -> list[dict]:
    """Every expectation the new batch breaks: the rule, the column, how many rows and which."""
    found: list[dict] = []
    columns = expected.get("columns", {})
    keys = [c for c, e in columns.items() if e.get("unique") and c in cleaned]
    ids = cleaned[keys[0]] if keys else None
    gone = [c for c in columns if c not in cleaned]
    for col in gone:
        found.append(_violation("column_present", col, f"Column {col!r} of the plan is not in this file.", count=0))
    for col in (c for c in cleaned.columns if c not in columns):
        found.append(_violation("known_column", col, f"Column {col!r} is new: the plan has no decisions for it.",
                                count=0))
    for col, rule in columns.items():
        if col in cleaned:
            found += _column_violations(raw, cleaned[col], col, rule, ids)
    for rule in expected.get("dependencies", []):
        x, y = rule["determinant"], rule["dependent"]
        if x not in cleaned or y not in cleaned or x == y:
            continue
        mask, pairs = _broken(cleaned, x, y)
        limit = rule.get("max_broken", 0.0)
        if pairs and mask.sum() / pairs > limit:
            found.append(_violation("dependency", y, f"{int(mask.sum()):,} rows break '{x} determines {y}' "
                                    f"({mask.sum() / pairs:.1%}; the plan allows {limit:.1%}).",
                                    determinant=x, share=round(float(mask.sum() / pairs), 4), limit=limit,
                                    **_rows(mask, ids)))
    return found


def _column_violations(raw: pd.DataFrame, series: pd.Series, col: str, rule: dict, ids: pd.Series | None
                       ) -> list[dict]:
    """What one column of the batch breaks of its rule (a wrong type is reported alone: the rest would not apply)."""
    if rule.get("type") and kind_of(series) != rule["type"] and not (
            {kind_of(series), rule["type"]} <= {"integer", "number"}):
        return [_violation("type", col, f"{col!r} reads as {kind_of(series)}, the plan expects {rule['type']}.",
                           count=int(series.notna().sum()), expected=rule["type"], found=kind_of(series))]
    found = []
    share = _missing_share(raw, col)
    if "max_missing" in rule and share > rule["max_missing"]:
        found.append(_violation("max_missing", col, f"{share:.0%} of {col!r} is missing; the plan allows "
                                                    f"{rule['max_missing']:.0%}.", share=round(share, 4),
                                limit=rule["max_missing"], **_rows(raw[col].isna().to_numpy(), None, "raw")))
    if rule.get("allowed") is not None:
        allowed = set(rule["allowed"])
        strangers = [v for v in series.dropna().unique() if plain(v) not in allowed]  # judged once a value
        mask = series.isin(strangers).to_numpy(dtype=bool)
        if mask.any():
            unseen = sorted(str(plain(v)) for v in strangers)[:SHOWN_ROWS]
            found.append(_violation("allowed_values", col, f"{_values(int(mask.sum()))} of {col!r} not among "
                                    f"the plan's categories: {', '.join(map(repr, unseen[:5]))}.", values=unseen,
                                    **_rows(mask, ids)))
    if rule.get("range") and _comparable(series, rule["range"]):
        low, high = rule["range"]
        mask = _in_range(series, low, high)
        if mask.any():
            found.append(_violation("range", col, f"{_values(int(mask.sum()))} of {col!r} outside the plan's "
                                    f"range [{_shown(low)}, {_shown(high)}].", range=[low, high],
                                    **_rows(mask, ids)))
    if rule.get("unique"):
        mask = (series.notna() & series.duplicated(keep=False)).to_numpy(dtype=bool)
        if mask.any():
            found.append(_violation("unique", col, f"{int(mask.sum()):,} rows share a value of identifier "
                                    f"{col!r}.", **_rows(mask, None)))
    return found
