"""Missing values: per-column decisions (heuristic or advisor), validated, then applied."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .entries import column_stats, entry, plain
from .profile import skewness

SKEW_LIMIT = 1.0
ALLOWED = {
    "numeric": ("mean", "median", "regression", "interpolate", "constant", "drop_column"),
    "boolean": ("mode", "group_mode", "constant", "drop_column"),
    "categorical": ("mode", "group_mode", "constant", "ffill", "drop_column"),
    "text": ("mode", "constant", "drop_column"),
    "datetime": ("median", "ffill", "interpolate", "drop_column"),
    "id": ("constant", "drop_column"),
    "constant": ("mode", "constant", "drop_column"),
}
SAMPLE_ROWS = 5_000  # relations between columns are measured on a row sample: plenty for choosing predictors
MAX_LEVELS = 10  # categories used as regression predictors become this many indicator columns at most
GROUP_LEVELS = 50  # categories with more levels are not used to group others
GROUP_CANDIDATES = 8
GROUP_GAIN = 0.05  # a grouping key must beat the plain mode by this much accuracy to be used
MIN_FIT_ROWS = 30


class DecisionError(ValueError):
    """An imputation decision that is not valid for its column."""


def decision(action: str, reasoning: str, source: str = "heuristic", **params) -> dict:
    return {"action": action, "params": params, "reasoning": reasoning, "source": source, "confidence": None}


@dataclass
class Evidence:
    """What the heuristics need to know about relations between columns, measured once on a sample."""

    sample: pd.DataFrame
    corr: pd.DataFrame  # |Pearson r| between numeric columns
    eta: pd.DataFrame  # correlation ratio: rows categorical columns, columns numeric ones
    codes: dict[str, np.ndarray]  # on the sample: category codes, or quintile of a number; -1 for missing


def _codes(series: pd.Series, numeric: bool) -> np.ndarray:
    if numeric and series.nunique() > 10:
        series = pd.qcut(series, 5, labels=False, duplicates="drop")
    return pd.factorize(series, use_na_sentinel=True)[0]


def gather_evidence(frame: pd.DataFrame, roles: dict[str, str]) -> Evidence:
    sample = frame.sample(SAMPLE_ROWS, random_state=0) if len(frame) > SAMPLE_ROWS else frame
    numeric = [c for c, r in roles.items() if r == "numeric" and c in frame]
    categories = [c for c, r in roles.items() if r in ("categorical", "boolean") and c in frame]
    codes = {c: _codes(sample[c], c in numeric) for c in [*numeric, *categories]}
    codes = {c: k for c, k in codes.items() if k.max(initial=-1) < GROUP_LEVELS}
    values = sample[numeric].astype("float64").to_numpy()
    corr = sample[numeric].astype("float64").corr().abs() if numeric else pd.DataFrame()
    grouping = [c for c in categories if c in codes and codes[c].max(initial=-1) < MAX_LEVELS]
    eta = pd.DataFrame(0.0, index=grouping, columns=numeric)
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    for c in grouping:  # group sums by bincount: every numeric column at once, no pandas groupby
        key = codes[c]
        ok = key >= 0
        one_hot = np.zeros((ok.sum(), key.max() + 1))
        one_hot[np.arange(ok.sum()), key[ok]] = 1.0
        counts, sums = one_hot.T @ present[ok], one_hot.T @ filled[ok]
        n, total = present[ok].sum(axis=0), filled[ok].sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            grand = total / n
            between = (counts * (sums / np.where(counts > 0, counts, 1) - grand) ** 2).sum(axis=0)
            total_ss = ((filled[ok] - grand) ** 2 * present[ok]).sum(axis=0)
            eta.loc[c] = np.nan_to_num(np.sqrt(np.clip(between / total_ss, 0, 1)))
    return Evidence(sample=sample, corr=corr, eta=eta, codes=codes)


def predictors(evidence: Evidence, col: str, missing: pd.Series, limit: int = 5, floor: float = 0.2,
               target: str | None = None) -> list[str]:
    """Columns that explain `col`: correlated numbers and categories whose groups differ in mean."""
    strength = {}
    if col in evidence.corr:
        strength.update(evidence.corr[col].drop(col).dropna().to_dict())
    if col in evidence.eta:
        strength.update(evidence.eta[col].to_dict())
    ranked = sorted(((c, r) for c, r in strength.items() if c != target and missing[c] < 0.5),
                    key=lambda item: -item[1])
    return [c for c, r in ranked if r >= floor][:limit]


def group_key(frame: pd.DataFrame, by: str) -> pd.Series:
    """Grouping values for the whole frame: categories as they are, numbers in quintile bins."""
    series = frame[by]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) and series.nunique() > 10:
        return pd.qcut(series, 5, labels=False, duplicates="drop")
    return series


def best_grouping(evidence: Evidence, col: str, missing: pd.Series) -> tuple[str, float, float] | None:
    """The column whose groups predict `col` best (by in-sample conditional-mode accuracy)."""
    target = pd.factorize(evidence.sample[col], use_na_sentinel=True)[0]
    known_target = target >= 0
    if known_target.sum() < MIN_FIT_ROWS:
        return None
    levels = target.max() + 1
    base = np.bincount(target[known_target]).max() / known_target.sum()
    candidates = sorted((c for c in evidence.codes if c != col), key=lambda c: missing[c])[:GROUP_CANDIDATES]
    best = None
    for by in candidates:
        keys = evidence.codes[by]
        known = (keys >= 0) & known_target
        if known.sum() < MIN_FIT_ROWS:
            continue
        table = np.bincount(keys[known] * levels + target[known], minlength=(keys.max() + 1) * levels)
        accuracy = float(table.reshape(-1, levels).max(axis=1).sum() / known.sum())
        if accuracy >= base + GROUP_GAIN and (best is None or accuracy > best[1]):
            best = (by, accuracy, float(base))
    return best


def heuristic_decision(frame: pd.DataFrame, col: str, role: str, ordered: bool, evidence: Evidence,
                       missing: pd.Series, target: str | None = None) -> dict:
    """The fast-mode rule for one column with missing values."""
    series = frame[col]
    if role == "numeric":
        if ordered:
            return decision("interpolate", "rows are ordered in time: interpolate between neighbours")
        chosen = predictors(evidence, col, missing, target=target)
        if chosen:
            return decision("regression", f"correlated with {', '.join(chosen)}: predict from them",
                            predictors=chosen)
        skew = skewness(series)
        if abs(skew) > SKEW_LIMIT:
            return decision("median", f"skewed (skew {skew:.2f}): the median is robust")
        return decision("mean", f"roughly symmetric (skew {skew:.2f}): the mean")
    if role == "datetime":
        return decision("ffill" if ordered else "median", "time-ordered: carry forward" if ordered else "median date")
    if role in ("categorical", "boolean", "constant", "text"):
        if ordered and role == "categorical":
            return decision("ffill", "rows are ordered in time: carry the last value forward")
        grouping = best_grouping(evidence, col, missing) if role in ("categorical", "boolean") else None
        if grouping:
            by, accuracy, base = grouping
            return decision("group_mode", f"the most frequent value among rows alike in {by!r} "
                                          f"(right {accuracy:.0%} of the time on known rows, vs {base:.0%})", by=by)
        return decision("mode", "the most frequent value")
    return decision("constant", "identifiers are not guessed: a placeholder marks the gap",
                    value=-1 if pd.api.types.is_numeric_dtype(series) else "unknown")


def validate_decision(raw: object, role: str, series: pd.Series, columns: list[str], source: str = "advisor",
                      target: str | None = None) -> dict:
    """Check an untrusted decision (e.g. from the LLM) against the column; raise DecisionError."""
    if not isinstance(raw, dict):
        raise DecisionError("decision is not an object")
    action = raw.get("action")
    if action not in ALLOWED[role]:
        raise DecisionError(f"action {action!r} is not allowed for a {role} column")
    if action == "drop_column" and series.name == target:
        raise DecisionError("the output feature (target) cannot be dropped")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise DecisionError("params is not an object")
    clean: dict = {}
    if action == "constant":
        # Checked against the column's storage type, not only its role: a numeric ID column
        # takes numbers, a text column takes short text.
        value = params.get("value")
        if pd.api.types.is_bool_dtype(series):
            if not isinstance(value, bool):
                raise DecisionError("a boolean constant must be true or false")
        elif pd.api.types.is_numeric_dtype(series):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise DecisionError("a numeric constant must be a finite number")
        elif pd.api.types.is_datetime64_any_dtype(series):
            raise DecisionError("date columns take no constant")
        elif not isinstance(value, str) or len(value) > 100:
            raise DecisionError("a text constant must be a string of at most 100 characters")
        clean["value"] = value
    if action == "group_mode":
        if params.get("by") not in columns or params.get("by") == series.name:
            raise DecisionError("group_mode needs 'by', another column of the table")
        clean["by"] = params["by"]
    if action == "regression":
        chosen = params.get("predictors")
        if not isinstance(chosen, list) or not chosen or not all(c in columns for c in chosen) or \
                series.name in chosen:
            raise DecisionError("regression needs predictors that are other columns of the table")
        clean["predictors"] = chosen[:5]
    confidence = raw.get("confidence")
    reasoning = str(raw.get("reasoning") or "")[:1000]
    result = decision(action, reasoning, source=source, **clean)
    result["confidence"] = float(confidence) if isinstance(confidence, (int, float)) and 0 <= confidence <= 1 \
        else None
    return result


def _design(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Numbers as they are, categories as indicator columns."""
    parts = []
    for c in columns:
        series = frame[c]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            parts.append(series.astype("float64").rename(c))
        else:
            parts.append(pd.get_dummies(series.astype("str"), prefix=c, dtype="float64").iloc[:, :MAX_LEVELS])
    return pd.concat(parts, axis=1)


def _fit_predict(frame: pd.DataFrame, y: pd.Series, columns: list[str], rows: pd.Index) -> np.ndarray | None:
    fit = y.notna() & frame[columns].notna().all(axis=1)
    x = _design(frame.loc[fit | y.index.isin(rows), columns], columns)
    if fit.sum() < max(MIN_FIT_ROWS, 3 * x.shape[1]):
        return None
    design = np.column_stack([np.ones(int(fit.sum())), x.loc[fit[fit].index].to_numpy()])
    # A little ridge keeps near-duplicate predictors from producing wild coefficients.
    gram = design.T @ design + 1e-6 * len(design) * np.eye(design.shape[1])
    coef = np.linalg.solve(gram, design.T @ y[fit].to_numpy())
    return np.column_stack([np.ones(len(rows)), x.loc[rows].to_numpy()]) @ coef


def _regress(frame: pd.DataFrame, col: str, chosen: list[str]) -> pd.Series | None:
    """Predict the gaps from the predictors; each pattern of missing predictors gets its own fit."""
    usable = [c for c in chosen if c in frame.columns and c != col]
    if not usable:
        return None
    y = frame[col].astype("float64")
    gaps = y.isna()
    bits = 1 << np.arange(len(usable))
    patterns = pd.Series(frame.loc[gaps, usable].notna().to_numpy() @ bits, index=y.index[gaps])
    predictions = []
    for pattern, rows in patterns.groupby(patterns).groups.items():
        available = [c for c, bit in zip(usable, bits) if pattern & bit]
        predicted = _fit_predict(frame, y, available, rows) if available else None
        if predicted is not None:
            predictions.append(pd.Series(predicted, index=rows))
    if not predictions:
        return None
    observed = y.dropna()
    return pd.concat(predictions).clip(observed.min(), observed.max())


def fill_column(frame: pd.DataFrame, col: str, plan: dict) -> tuple[pd.Series | None, object]:
    """The filled column (None when dropped) and the value used, if a single one."""
    series = frame[col]
    values = series.dropna()
    action = plan["action"]
    if action == "drop_column":
        return None, None
    if action == "mean":
        value = values.mean()
    elif action == "median":
        value = values.median() if not pd.api.types.is_datetime64_any_dtype(series) else values.sort_values().iloc[
            len(values) // 2]
    elif action == "mode":
        value = values.value_counts().index[0]
    elif action == "group_mode":
        keys = group_key(frame, plan["params"]["by"])
        modes = series.groupby(keys, observed=True).agg(lambda v: v.value_counts().index[0] if v.notna().any()
                                                        else None)
        value = values.value_counts().index[0]  # rows whose group is unknown or never seen
        guess = keys.map(modes)
        return _keep_integers(series, series.fillna(guess).fillna(value).astype(series.dtype)), None
    elif action == "constant":
        value = plan["params"]["value"]
    elif action in ("ffill", "interpolate"):
        filled = series.interpolate(limit_direction="both") if action == "interpolate" and \
            pd.api.types.is_numeric_dtype(series) else series.ffill().bfill()
        return _keep_integers(series, filled), None
    elif action == "regression":
        predicted = _regress(frame, col, plan["params"]["predictors"])
        if predicted is not None:
            filled = series.astype("float64").copy()
            filled[predicted.index] = predicted
            # Rows with no usable predictor get the median, robust whatever the shape.
            return _keep_integers(series, filled.fillna(round(values.median(), _decimals(values)))), None
        value = values.median()
    else:
        raise DecisionError(f"unknown action {action!r}")
    if pd.api.types.is_float_dtype(series) and isinstance(value, float):
        value = round(value, _decimals(values))
    return _keep_integers(series, series.fillna(value)), value


def _decimals(values: pd.Series) -> int:
    """Decimal places the data is written with (up to 6), so fills look like the data."""
    sample = values.head(1000).to_numpy(dtype="float64")
    for places in range(7):
        if np.allclose(sample, np.round(sample, places), rtol=0, atol=1e-9):
            return places
    return 6


def _keep_integers(original: pd.Series, filled: pd.Series) -> pd.Series:
    values = original.dropna()
    if pd.api.types.is_numeric_dtype(original) and not pd.api.types.is_bool_dtype(original) and len(values) \
            and (values == values.round()).all() and filled.notna().all():
        return filled.round().astype("int64")
    return filled


def apply_decisions(frame: pd.DataFrame, plans: dict[str, dict], *, indicators: bool = False
                    ) -> tuple[pd.DataFrame, list[dict]]:
    """Fill every column named in `plans`; one log entry per column, saying who decided."""
    out = frame.copy()
    logs: list[dict] = []
    for col, plan in plans.items():
        series = frame[col]
        missing = int(series.isna().sum())
        filled, value = fill_column(frame, col, plan)
        params = {**{k: plain(v) if not isinstance(v, list) else v for k, v in plan["params"].items()},
                  "reasoning": plan["reasoning"], "confidence": plan.get("confidence")}
        if plan.get("advisor_error"):
            params["advisor_error"] = plan["advisor_error"]
        if filled is None:
            out = out.drop(columns=[col])
            logs.append(entry("drop_column", column=col, count=missing, params=params, source=plan["source"],
                              before=column_stats(series),
                              message=f"Dropped: {plan['reasoning'] or 'decided by ' + plan['source']}."))
            continue
        if indicators:
            out[f"{col}_was_missing"] = series.isna().astype("int8")
        out[col] = filled
        if value is not None:
            params["value"] = plain(value)
        shown = f" ({plain(value)})" if value is not None else ""
        logs.append(entry(f"impute_{plan['action']}", column=col, count=missing, params=params,
                          source=plan["source"], before=column_stats(series), after=column_stats(filled),
                          message=f"Filled {missing:,} missing values by {plan['action']}{shown}, decided by "
                                  f"the {plan['source']}: {plan['reasoning']}."))
    return out, logs
