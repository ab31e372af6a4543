"""Filling missing values by a decision (mean, regression, group mode, dependency…); the imputed cells."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .decide import DecisionError
from .entries import column_stats, entry, is_number, plain
from .numbers import decimal_places
from .depend import majority_fill

MAX_LEVELS = 10  # categories used as regression predictors become this many indicator columns at most
MIN_FIT_ROWS = 30
LEARNED = ("mean", "median", "mode")  # single fill values a plan carries to the next batch as learned


def group_key(frame: pd.DataFrame, by: str) -> pd.Series:
    """Grouping values for the whole frame: categories as they are, numbers in quintile bins."""
    series = frame[by]
    if is_number(series) and series.nunique() > 10:
        return pd.qcut(series, 5, labels=False, duplicates="drop")
    return series


def interpolated(frame: pd.DataFrame, col: str, by: str) -> pd.Series:
    """Linear in time along the date column, whatever the row order."""
    ordered = frame[[by, col]].sort_values(by, kind="stable")
    times = ordered[by].astype("int64").to_numpy(dtype="float64")
    values = ordered[col].astype("float64").to_numpy()
    known = ~np.isnan(values) & ~np.isnan(times)
    if known.sum() < 2:
        return frame[col].astype("float64")
    filled = np.where(known, values, np.interp(times, times[known], values[known]))
    return pd.Series(filled, index=ordered.index).reindex(frame.index)


def _design(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Numbers as they are, categories as indicator columns."""
    parts = []
    for c in columns:
        series = frame[c]
        if is_number(series):
            parts.append(series.astype("float64").rename(c))
        else:
            parts.append(pd.get_dummies(series.astype("str"), prefix=c, dtype="float64").iloc[:, :MAX_LEVELS])
    return pd.concat(parts, axis=1)


def _fit(frame: pd.DataFrame, y: pd.Series, columns: list[str], rows: pd.Index) -> dict | None:
    """A ridge fit of `y` on `columns` (categories as indicators of the levels seen), as its terms and
    coefficients: what a plan keeps to fill the next batch's gaps the same way."""
    fit = y.notna() & frame[columns].notna().all(axis=1)
    x = _design(frame.loc[fit | y.index.isin(rows), columns], columns)
    if fit.sum() < max(MIN_FIT_ROWS, 3 * x.shape[1]):
        return None
    design = np.column_stack([np.ones(int(fit.sum())), x.loc[fit[fit].index].to_numpy()])
    # A little ridge keeps near-duplicate predictors from producing wild coefficients.
    gram = design.T @ design + 1e-6 * len(design) * np.eye(design.shape[1])
    coef = np.linalg.solve(gram, design.T @ y[fit].to_numpy())
    numeric = {c for c in columns if is_number(frame[c])}
    terms = [[str(name), None] if name in numeric else [c, str(name)[len(c) + 1:]]
             for name in x.columns for c in [next(c for c in columns if name == c or str(name).startswith(f"{c}_"))]]
    return {"predictors": list(columns), "terms": terms, "coefficients": [float(v) for v in coef]}


def _predict(frame: pd.DataFrame, rows: pd.Index, model: dict) -> np.ndarray:
    """A fit's predictions for `rows`: a level it never saw counts as none of its levels."""
    part = frame.loc[rows]
    columns = [part[c].astype("float64").to_numpy() if level is None else
               (part[c].astype("str") == level).to_numpy(dtype="float64") for c, level in model["terms"]]
    return np.column_stack([np.ones(len(rows)), *columns]) @ np.asarray(model["coefficients"], dtype="float64")


def fit_regression(frame: pd.DataFrame, col: str, chosen: list[str], fits: list[dict] | None = None
                   ) -> tuple[pd.Series | None, list[dict]]:
    """Predict the gaps from the predictors, each pattern of missing predictors with its own fit (a plan's
    `fits`, when given: nothing is fitted again); the predictions and the fits used."""
    usable = [c for c in chosen if c in frame.columns and c != col]
    if not usable:
        return None, []
    y = frame[col].astype("float64")
    gaps = y.isna()
    bits = 1 << np.arange(len(usable))
    patterns = pd.Series(frame.loc[gaps, usable].notna().to_numpy() @ bits, index=y.index[gaps])
    known = None if fits is None else {tuple(f["predictors"]): f for f in fits}
    predictions, used = [], []
    for pattern, rows in patterns.groupby(patterns).groups.items():
        available = [c for c, bit in zip(usable, bits) if pattern & bit]
        if not available:
            continue
        model = _fit(frame, y, available, rows) if known is None else known.get(tuple(available))
        if model is not None and not all(level is not None or is_number(frame[c]) for c, level in model["terms"]):
            model = None  # a plan's fit on a predictor that is no longer a number: those rows get the fallback
        if model is not None:
            used.append(model)
            predictions.append(pd.Series(_predict(frame, rows, model), index=rows))
    return (pd.concat(predictions) if predictions else None), used


def regress(frame: pd.DataFrame, col: str, chosen: list[str]) -> pd.Series | None:
    """Predicted gaps, within the range of the values observed."""
    predicted, _ = fit_regression(frame, col, chosen)
    observed = frame[col].astype("float64").dropna()
    return None if predicted is None else predicted.clip(observed.min(), observed.max())


def fill_column(frame: pd.DataFrame, col: str, plan: dict) -> tuple[pd.Series | None, dict]:
    """The filled column (None when dropped) and what was learned to fill it: the `value`, if a single one, or
    a regression's `model`."""
    series = frame[col]
    values = series.dropna()
    action = plan["action"]
    if action == "drop_column":
        return None, {}
    if action in LEARNED and plan["params"].get("value") is not None:  # a plan replayed: the value it learned
        value = pd.Timestamp(plan["params"]["value"]) if pd.api.types.is_datetime64_any_dtype(series) else \
            plan["params"]["value"]
    elif action == "mean":
        value = values.mean()
    elif action == "median":
        value = values.median() if not pd.api.types.is_datetime64_any_dtype(series) else values.sort_values().iloc[
            len(values) // 2]
    elif action == "leave_missing":
        return series, {}
    elif action == "mode":
        value = mode_of(values)
    elif action == "group_mode":
        keys = group_key(frame, plan["params"]["by"])
        modes = series.groupby(keys, observed=True).agg(lambda v: mode_of(v.dropna()) if v.notna().any() else None)
        value = mode_of(values)  # rows whose group is unknown or never seen
        guess = keys.map(modes)
        return _keep_integers(series, series.fillna(guess).fillna(value).astype(series.dtype)), {}
    elif action == "dependency":
        return _keep_integers(series, majority_fill(frame, col, plan["params"]["by"])), {}
    elif action == "constant":
        value = plan["params"]["value"]
    elif action == "interpolate":
        by = plan["params"].get("by", col)
        if pd.api.types.is_datetime64_any_dtype(series):
            filled = pd.Series(pd.to_datetime(interpolated(frame.assign(_t=series), "_t", by).round(), unit="ns")
                               if by != col else _dates_between(series), index=series.index)
        else:
            filled = interpolated(frame, col, by).round(decimal_places(values))
        return _keep_integers(series, filled), {}
    elif action == "regression":
        filled, model = _regression(frame, col, plan)
        return filled, {"model": model}
    else:
        raise DecisionError(f"unknown action {action!r}")
    if pd.api.types.is_float_dtype(series) and isinstance(value, float):
        value = round(value, decimal_places(values))
    if pd.api.types.is_integer_dtype(series) and isinstance(value, float) and not value.is_integer():
        series = series.astype("Float64")  # a nullable integer column takes a mean of 40.8 as a float column
    return _keep_integers(series, series.fillna(value)), {"value": value}


def mode_of(values: pd.Series):
    """The most frequent value; ties go to the smallest, so row order never decides."""
    counts = values.value_counts()
    top = counts[counts == counts.iloc[0]].index
    return min(top, key=str) if len(top) > 1 else top[0]


def _dates_between(series: pd.Series) -> pd.Series:
    """A regular date series' own gaps: linear in position once sorted by date."""
    order = series.sort_values(kind="stable", na_position="last")
    numbers = order.astype("int64").where(order.notna()).astype("float64")
    return pd.to_datetime(numbers.interpolate(limit_direction="both").round(), unit="ns").reindex(series.index)


def _regression(frame: pd.DataFrame, col: str, plan: dict) -> tuple[pd.Series, dict]:
    """Gaps predicted, within the observed range, rounded like the data; rows no fit covers get the median.
    A plan's `model` (fits, range, decimals, fallback) fills the next batch without fitting again."""
    series, values, pinned = frame[col], frame[col].dropna(), plan.get("model")
    predicted, fits = fit_regression(frame, col, plan["params"]["predictors"], pinned and pinned["fits"])
    if pinned:
        low, high, places, fallback = *pinned["range"], pinned["decimals"], pinned["fallback"]
    else:
        low, high, places = float(values.min()), float(values.max()), decimal_places(values)
        fallback = float(round(values.median(), places))
    filled = series.astype("float64").copy()
    if predicted is not None:
        filled[predicted.index] = predicted.clip(low, high).round(places)
    model = {"fits": fits, "range": [low, high], "decimals": places, "fallback": fallback}
    return _keep_integers(series, filled.fillna(fallback)), model


def _keep_integers(original: pd.Series, filled: pd.Series) -> pd.Series:
    values = original.dropna()
    if is_number(original) and len(values) \
            and (values == values.round()).all() and filled.notna().all():
        return filled.round().astype("int64")
    return filled


def apply_decisions(frame: pd.DataFrame, plans: dict[str, dict], *, indicators: bool = False
                    ) -> tuple[pd.DataFrame, list[dict]]:
    """Fill every column named in `plans`; one log entry per column, saying who decided."""
    out = frame.copy(deep=False)  # copy-on-write: columns are copied only where a value changes
    logs: list[dict] = []
    for col, plan in plans.items():
        series = frame[col]
        missing = int(series.isna().sum())
        filled, learned = fill_column(frame, col, plan)
        value = learned.get("value")
        params = {**{k: plain(v) if not isinstance(v, list) else v for k, v in plan["params"].items()},
                  "reasoning": plan["reasoning"], "confidence": plan.get("confidence")}
        if plan.get("advisor_error"):
            params["advisor_error"] = plan["advisor_error"]
        if plan["action"] == "leave_missing":
            logs.append(entry("leave_missing", column=col, count=missing, params={**params, "reason": plan["reasoning"]},
                              source=plan["source"], before=column_stats(series),
                              message=f"Left {missing:,} gaps missing, decided by the {plan['source']}: "
                                      f"{plan['reasoning']}."))
            continue
        if filled is None:  # the cleaned data keeps every column in place: dropping is for the features
            logs.append(entry("drop_column", column=col, count=missing, params=params, source=plan["source"],
                              before=column_stats(series),
                              message=f"Left out of the features, kept unchanged in the cleaned data: "
                                      f"{plan['reasoning'] or 'decided by ' + plan['source']}."))
            continue
        if indicators:
            out[f"{col}_was_missing"] = series.isna().astype("int8")
        out[col] = filled
        if value is not None:
            params["value"] = plain(value, digits=None)  # exact: a plan fills the next batch with it
        if "model" in learned:
            params["model"] = learned["model"]  # exact, likewise: fits, range, decimals, fallback
        shown = f" ({plain(value)})" if value is not None else ""
        logs.append(entry(f"impute_{plan['action']}", column=col, count=missing, params=params,
                          source=plan["source"], before=column_stats(series), after=column_stats(filled),
                          message=f"Filled {missing:,} missing values by {plan['action']}{shown}, decided by "
                                  f"the {plan['source']}: {plan['reasoning']}."))
    return out, logs


def imputed_cells(before: pd.DataFrame, after: pd.DataFrame, logs: list[dict]) -> pd.DataFrame:
    """Every cell that was missing in `before` and holds a value in `after`: (row, column, value, action)."""
    actions = {e["column"]: e["action"] for e in logs}
    parts = []
    for col in before.columns:
        if col not in after.columns or col not in actions:
            continue
        rows = np.flatnonzero(before[col].isna().to_numpy() & after[col].notna().to_numpy())
        if len(rows):
            parts.append(pd.DataFrame({"row": rows, "column": str(col),
                                       "value": after[col].iloc[rows].astype("str").to_numpy(),
                                       "action": actions[col]}))
    if not parts:
        return pd.DataFrame({"row": pd.Series(dtype="int64"), "column": pd.Series(dtype="str"),
                             "value": pd.Series(dtype="str"), "action": pd.Series(dtype="str")})
    return pd.concat(parts, ignore_index=True)
