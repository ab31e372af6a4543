"""Missing values: per-column decisions (heuristic or advisor), validated, then applied."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .entries import column_stats, entry, plain
from .profile import skewness

SKEW_LIMIT = 1.0
ALLOWED = {
    "numeric": ("mean", "median", "regression", "interpolate", "constant", "drop_column"),
    "boolean": ("mode", "constant", "drop_column"),
    "categorical": ("mode", "constant", "ffill", "drop_column"),
    "text": ("mode", "constant", "drop_column"),
    "datetime": ("median", "ffill", "interpolate", "drop_column"),
    "id": ("constant", "drop_column"),
    "constant": ("mode", "constant", "drop_column"),
}
CORRELATION_ROWS = 20_000  # correlations are estimated on a row sample: plenty for choosing predictors
MIN_FIT_ROWS = 30


class DecisionError(ValueError):
    """An imputation decision that is not valid for its column."""


def decision(action: str, reasoning: str, source: str = "heuristic", **params) -> dict:
    return {"action": action, "params": params, "reasoning": reasoning, "source": source, "confidence": None}


def predictors(frame: pd.DataFrame, col: str, numeric: list[str], limit: int = 3, floor: float = 0.3) -> list[str]:
    """The numeric columns most correlated with `col` (|r| >= floor), strongest first."""
    others = [c for c in numeric if c != col and frame[c].isna().mean() < 0.5]
    if not others:
        return []
    sample = frame[[col, *others]]
    if len(sample) > CORRELATION_ROWS:
        sample = sample.sample(CORRELATION_ROWS, random_state=0)
    corr = sample[others].corrwith(sample[col]).abs().dropna().sort_values(ascending=False)
    return [c for c, r in corr.items() if r >= floor][:limit]


def heuristic_decision(frame: pd.DataFrame, col: str, role: str, numeric: list[str], ordered: bool) -> dict:
    """The fast-mode rule for one column with missing values."""
    series = frame[col]
    if role == "numeric":
        if ordered:
            return decision("interpolate", "rows are ordered in time: interpolate between neighbours")
        chosen = predictors(frame, col, numeric)
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
        return decision("mode", "the most frequent value")
    return decision("constant", "identifiers are not guessed: a placeholder marks the gap",
                    value=-1 if pd.api.types.is_numeric_dtype(series) else "unknown")


def validate_decision(raw: object, role: str, series: pd.Series, columns: list[str], source: str = "advisor") -> dict:
    """Check an untrusted decision (e.g. from the LLM) against the column; raise DecisionError."""
    if not isinstance(raw, dict):
        raise DecisionError("decision is not an object")
    action = raw.get("action")
    if action not in ALLOWED[role]:
        raise DecisionError(f"action {action!r} is not allowed for a {role} column")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise DecisionError("params is not an object")
    clean: dict = {}
    if action == "constant":
        value = params.get("value")
        if role == "numeric":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise DecisionError("a numeric constant must be a finite number")
        elif role == "boolean":
            if not isinstance(value, bool):
                raise DecisionError("a boolean constant must be true or false")
        elif not isinstance(value, (str, int, float)) or len(str(value)) > 100:
            raise DecisionError("a constant must be a short string or number")
        clean["value"] = value
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


def _regress(frame: pd.DataFrame, col: str, chosen: list[str]) -> pd.Series | None:
    usable = [c for c in chosen if c in frame.columns and pd.api.types.is_numeric_dtype(frame[c])]
    if not usable:
        return None
    x = frame[usable].astype("float64")
    y = frame[col].astype("float64")
    fit = y.notna() & x.notna().all(axis=1)
    if fit.sum() < max(MIN_FIT_ROWS, 3 * len(usable)):
        return None
    design = np.column_stack([np.ones(int(fit.sum())), x[fit].to_numpy()])
    coef, *_ = np.linalg.lstsq(design, y[fit].to_numpy(), rcond=None)
    gaps = y.isna()
    xs = x[gaps].fillna(x.median())  # a missing predictor contributes its typical value
    predicted = np.column_stack([np.ones(int(gaps.sum())), xs.to_numpy()]) @ coef
    observed = y.dropna()
    return pd.Series(np.clip(predicted, observed.min(), observed.max()), index=y.index[gaps])


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
    elif action == "constant":
        value = plan["params"]["value"]
    elif action in ("ffill", "interpolate"):
        filled = series.interpolate(limit_direction="both") if action == "interpolate" and \
            pd.api.types.is_numeric_dtype(series) else series.ffill().bfill()
        return _keep_integers(series, filled), None
    elif action == "regression":
        predicted = _regress(frame, col, plan["params"]["predictors"])
        value = values.mean() if predicted is None else None
        if predicted is not None:
            filled = series.astype("float64").copy()
            filled[predicted.index] = predicted
            return _keep_integers(series, filled), None
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
