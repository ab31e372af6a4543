"""Missing values: per-column decisions (heuristic or advisor), validated, then applied."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .entries import column_stats, entry, plain
from .profile import skewness

SKEW_LIMIT = 1.0
ALLOWED = {  # leave_missing everywhere: a gap nothing predicts is reported, not filled
    "numeric": ("mean", "median", "regression", "interpolate", "constant", "leave_missing", "drop_column"),
    "coordinate": ("regression", "interpolate", "leave_missing", "drop_column"),
    "boolean": ("mode", "group_mode", "constant", "leave_missing", "drop_column"),
    "categorical": ("mode", "group_mode", "constant", "leave_missing", "drop_column"),
    "text": ("constant", "leave_missing", "drop_column"),  # free text is never guessed
    "datetime": ("median", "interpolate", "leave_missing", "drop_column"),
    "time": ("leave_missing", "drop_column"),
    "id": ("leave_missing", "drop_column"),
    "code": ("leave_missing", "drop_column"),
    "constant": ("mode", "constant", "leave_missing", "drop_column"),
}
SAMPLE_ROWS = 5_000  # relations between columns are measured on a row sample: plenty for choosing predictors
MAX_LEVELS = 10  # categories used as regression predictors become this many indicator columns at most
GROUP_LEVELS = 50  # categories with more levels are not used to group others
GROUP_CANDIDATES = 8
GROUP_GAIN = 0.05  # a grouping key must beat the plain mode by this much held-out accuracy to be used
MIN_FIT_ROWS = 30
HOLDOUT = 5  # one known cell in this many is hidden to score the candidate fills
MIN_HELD_OUT = 10
CATEGORY_CONFIDENCE = 0.9  # a category is filled only when the fill is right this often on held-out cells
MODEL_GAIN = 0.05  # regression or interpolation must cut the held-out error of the median by this share


class DecisionError(ValueError):
    """An imputation decision that is not valid for its column."""


def decision(action: str, reasoning: str, source: str = "heuristic", **params) -> dict:
    return {"action": action, "params": params, "reasoning": reasoning, "source": source, "confidence": None}


@dataclass
class Evidence:
    """What the heuristics need to know about relations between columns, measured once on a sample."""

    sample: pd.DataFrame
    hashes: np.ndarray  # per sample row, from its content: held-out cells do not depend on row order
    corr: pd.DataFrame  # |Pearson r| between numeric columns
    eta: pd.DataFrame  # correlation ratio: rows categorical columns, columns numeric ones
    codes: dict[str, np.ndarray]  # on the sample: category codes, or quintile of a number; -1 for missing


def _codes(series: pd.Series, numeric: bool) -> np.ndarray:
    if numeric and series.nunique() > 10:
        series = pd.qcut(series, 5, labels=False, duplicates="drop")
    return pd.factorize(series, use_na_sentinel=True)[0]


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A hash per row from its content; identical rows get distinct hashes by occurrence (they are interchangeable)."""
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    repeat = pd.Series(hashes).groupby(hashes).cumcount().to_numpy(dtype="uint64")
    return hashes ^ (repeat * np.uint64(0xBF58476D1CE4E5B9))


def gather_evidence(frame: pd.DataFrame, roles: dict[str, str]) -> Evidence:
    hashes = row_hashes(frame)
    if len(frame) > SAMPLE_ROWS:  # the rows with the smallest hashes: the same sample however rows are ordered
        picks = np.sort(np.argsort(hashes, kind="stable")[:SAMPLE_ROWS])
        sample, hashes = frame.iloc[picks], hashes[picks]
    else:
        sample = frame
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
    return Evidence(sample=sample, hashes=hashes, corr=corr, eta=eta, codes=codes)


def held_out(hashes: np.ndarray, known: np.ndarray, col: str) -> np.ndarray:
    """One known cell in HOLDOUT, chosen by row content and column name (never by position)."""
    salt = np.uint64(int(pd.util.hash_array(np.array([str(col)], dtype=object))[0]))
    return known & (((hashes ^ salt) * np.uint64(0x9E3779B97F4A7C15) >> np.uint64(40)) % np.uint64(HOLDOUT) == 0)


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


def best_grouping(evidence: Evidence, col: str, missing: pd.Series) -> tuple[str | None, float, float] | None:
    """(grouping column or None for the plain mode, held-out accuracy, the mode's held-out accuracy).

    Each candidate's table is learned on the known rows that are not held out and scored on the held-out
    ones, less a penalty for its number of groups: on unrelated columns nothing beats the mode.
    """
    target = pd.factorize(evidence.sample[col], use_na_sentinel=True)[0]
    known_target = target >= 0
    test = held_out(evidence.hashes, known_target, col)
    train = known_target & ~test
    if test.sum() < MIN_HELD_OUT or train.sum() < MIN_FIT_ROWS:
        return None
    levels = target.max() + 1
    mode = int(np.argmax(np.bincount(target[train], minlength=levels)))
    base = float((target[test] == mode).mean())
    best: tuple[str | None, float, float] = (None, base, base)
    candidates = sorted((c for c in evidence.codes if c != col), key=lambda c: (missing[c], c))[:GROUP_CANDIDATES]
    for by in candidates:
        keys = evidence.codes[by]
        groups = keys.max() + 1
        fit = train & (keys >= 0)
        if fit.sum() < MIN_FIT_ROWS or groups < 1:
            continue
        table = np.bincount(keys[fit] * levels + target[fit], minlength=groups * levels).reshape(groups, levels)
        guess = np.where(table.sum(axis=1) > 0, table.argmax(axis=1), mode)
        predicted = np.where(keys[test] >= 0, guess[np.maximum(keys[test], 0)], mode)
        accuracy = float((predicted == target[test]).mean())
        penalty = groups / fit.sum()  # many small groups fit noise
        if accuracy - penalty >= base + GROUP_GAIN and accuracy > best[1]:
            best = (by, accuracy, base)
    return best


def regular_series(frame: pd.DataFrame, roles: dict[str, str]) -> str | None:
    """The date column of a time series of one entity at regular steps (daily readings), if there is one.

    Rows merely sorted by date (orders, visits) repeat dates or come at irregular times: not a series.
    """
    for col, role in roles.items():
        if role != "datetime" or col not in frame:
            continue
        values = frame[col].dropna()
        if len(values) < 5 or values.nunique() < 0.99 * len(values):
            continue
        steps = np.diff(np.sort(values.to_numpy()))
        common = pd.Series(steps).value_counts()
        if len(common) and common.iloc[0] >= 0.9 * len(steps):
            return str(col)
    return None


def _mae(truth: np.ndarray, guess: np.ndarray) -> float:
    ok = ~np.isnan(guess)
    return float(np.abs(truth[ok] - guess[ok]).mean()) if ok.any() else float("inf")


def _interpolated(frame: pd.DataFrame, col: str, by: str) -> pd.Series:
    """Linear in time along the date column, whatever the row order."""
    ordered = frame[[by, col]].sort_values(by, kind="stable")
    times = ordered[by].astype("int64").to_numpy(dtype="float64")
    values = ordered[col].astype("float64").to_numpy()
    known = ~np.isnan(values) & ~np.isnan(times)
    if known.sum() < 2:
        return frame[col].astype("float64")
    filled = np.where(known, values, np.interp(times, times[known], values[known]))
    return pd.Series(filled, index=ordered.index).reindex(frame.index)


def numeric_scores(frame: pd.DataFrame, evidence: Evidence, col: str, chosen: list[str], series_by: str | None
                   ) -> dict[str, float]:
    """Held-out mean absolute error of each candidate fill for a numeric column."""
    sample = evidence.sample
    y = sample[col].astype("float64").to_numpy()
    test = held_out(evidence.hashes, ~np.isnan(y), col)
    train = ~np.isnan(y) & ~test
    if test.sum() < MIN_HELD_OUT or train.sum() < MIN_FIT_ROWS:
        return {}
    truth = y[test]
    scores = {"mean": _mae(truth, np.full(test.sum(), y[train].mean())),
              "median": _mae(truth, np.full(test.sum(), np.median(y[train])))}
    if chosen:
        hidden = sample.copy()
        hidden.loc[hidden.index[test], col] = np.nan
        predicted = _regress(hidden, col, chosen)
        if predicted is not None:
            guess = pd.Series(np.median(y[train]), index=sample.index, dtype="float64")
            guess.loc[predicted.index] = predicted
            scores["regression"] = _mae(truth, guess.to_numpy()[test])
    if series_by is not None:  # on the whole column: neighbours in time are what interpolation uses
        full = frame[col].astype("float64").to_numpy()
        whole = held_out(row_hashes(frame), ~np.isnan(full), col)
        hidden = frame[[series_by, col]].copy()
        hidden.loc[hidden.index[whole], col] = np.nan
        scores["interpolate"] = _mae(full[whole], _interpolated(hidden, col, series_by).to_numpy()[whole])
    return scores


def _leave(reason: str) -> dict:
    return decision("leave_missing", reason)


def heuristic_decision(frame: pd.DataFrame, col: str, role: str, series_by: str | None, evidence: Evidence,
                       missing: pd.Series, target: str | None = None) -> dict:
    """The fast-mode rule for one column with missing values, chosen by held-out error where it can be."""
    series = frame[col]
    if role in ("numeric", "coordinate"):
        chosen = predictors(evidence, col, missing, target=target)
        scores = numeric_scores(frame, evidence, col, chosen, series_by)
        skew = skewness(series)
        # Mean or median by shape (order-free and stable); models must beat it on held-out cells.
        simple, shape = ("median", f"skewed (skew {skew:.2f}): the median is robust") if abs(skew) > SKEW_LIMIT \
            else ("mean", f"roughly symmetric (skew {skew:.2f}): the mean")
        if not scores:
            if series_by is not None:
                return decision("interpolate", "one entity at regular time steps: neighbours in time", by=series_by)
            if role == "coordinate":
                return _leave("too few known values to check a fill: a location is not guessed")
            return decision(simple, shape)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(scores.items(), key=lambda kv: kv[1]))
        models = {k: v for k, v in scores.items() if k in ("regression", "interpolate")}
        best = min(models, key=models.get) if models else None
        why = f"held-out error (mean absolute, 1 in {HOLDOUT} known values hidden): {shown}"
        if best is not None and models[best] <= (1 - MODEL_GAIN) * scores[simple]:
            params = {"predictors": chosen} if best == "regression" else {"by": series_by}
            return decision(best, why, **params)
        if role == "coordinate":
            return _leave(f"no related column predicts it ({why}): a location is not guessed")
        return decision(simple, f"{shape}; {why}")
    if role == "datetime":
        if series_by == col:
            return decision("interpolate", "one entity at regular time steps: the missing steps are interpolated",
                            by=col)
        return _leave("a missing date is not guessed")
    if role in ("categorical", "boolean", "constant"):
        grouping = best_grouping(evidence, col, missing)
        if grouping is None:
            return _leave("too few known values to check that a fill would be right")
        by, accuracy, base = grouping
        if accuracy < CATEGORY_CONFIDENCE:
            return _leave(f"no fill is right often enough: best held-out accuracy {accuracy:.0%} "
                          f"(the most frequent value: {base:.0%}; at least {CATEGORY_CONFIDENCE:.0%} needed)")
        if by is None:
            return decision("mode", f"the most frequent value (right {accuracy:.0%} of the time on held-out rows)")
        return decision("group_mode", f"the most frequent value among rows alike in {by!r} (right {accuracy:.0%} "
                                      f"of the time on held-out rows, vs {base:.0%} for the overall mode)", by=by)
    if role == "text":
        return _leave("free text is never guessed")
    if role == "time":
        return _leave("a missing time of day is not guessed")
    return _leave("identifiers and codes are never guessed")


def validate_decision(raw: object, role: str, series: pd.Series, columns: list[str], source: str = "advisor",
                      target: str | None = None, series_by: str | None = None) -> dict:
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
    if action == "interpolate":
        if series_by is None:
            raise DecisionError("interpolate needs rows of one entity at regular time steps; this table is not")
        clean["by"] = series_by
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
    elif action == "leave_missing":
        return series, None
    elif action == "mode":
        value = mode_of(values)
    elif action == "group_mode":
        keys = group_key(frame, plan["params"]["by"])
        modes = series.groupby(keys, observed=True).agg(lambda v: mode_of(v.dropna()) if v.notna().any() else None)
        value = mode_of(values)  # rows whose group is unknown or never seen
        guess = keys.map(modes)
        return _keep_integers(series, series.fillna(guess).fillna(value).astype(series.dtype)), None
    elif action == "constant":
        value = plan["params"]["value"]
    elif action == "interpolate":
        by = plan["params"].get("by", col)
        if pd.api.types.is_datetime64_any_dtype(series):
            filled = pd.Series(pd.to_datetime(_interpolated(frame.assign(_t=series), "_t", by).round(), unit="ns")
                               if by != col else _dates_between(series), index=series.index)
        else:
            filled = _interpolated(frame, col, by).round(_decimals(values))
        return _keep_integers(series, filled), None
    elif action == "regression":
        predicted = _regress(frame, col, plan["params"]["predictors"])
        if predicted is not None:
            filled = series.astype("float64").copy()
            filled[predicted.index] = predicted.round(_decimals(values))
            # Rows with no usable predictor get the median, robust whatever the shape.
            return _keep_integers(series, filled.fillna(round(values.median(), _decimals(values)))), None
        value = values.median()
    else:
        raise DecisionError(f"unknown action {action!r}")
    if pd.api.types.is_float_dtype(series) and isinstance(value, float):
        value = round(value, _decimals(values))
    return _keep_integers(series, series.fillna(value)), value


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
            params["value"] = plain(value)
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
