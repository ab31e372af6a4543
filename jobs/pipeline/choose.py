"""Choosing a fill per column: evidence on a row sample, candidates scored on held-out cells, the heuristic."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .decide import decision
from .impute import MAX_LEVELS, MIN_FIT_ROWS, interpolated, regress
from .profile import skewness

SKEW_LIMIT = 1.0
SAMPLE_ROWS = 5_000  # relations between columns are measured on a row sample: plenty for choosing predictors
GROUP_LEVELS = 50  # categories with more levels are not used to group others
GROUP_CANDIDATES = 8
GROUP_GAIN = 0.05  # a grouping key must beat the plain mode by this much held-out accuracy to be used
HOLDOUT = 5  # one known cell in this many is hidden to score the candidate fills
MIN_HELD_OUT = 10
CATEGORY_CONFIDENCE = 0.9  # a category is filled only when the fill is right this often on held-out cells
MODEL_GAIN = 0.05  # regression or interpolation must cut the held-out error of the median by this share


@dataclass
class Evidence:
    """What the heuristics need to know about relations between columns, measured once on a sample."""

    sample: pd.DataFrame
    hashes: np.ndarray  # per sample row, from its content: held-out cells do not depend on row order
    all_hashes: np.ndarray  # the same for every row of the frame
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
    all_hashes = hashes = row_hashes(frame)
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
    return Evidence(sample=sample, hashes=hashes, all_hashes=all_hashes, corr=corr, eta=eta, codes=codes)


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
        predicted = regress(hidden, col, chosen)
        if predicted is not None:
            guess = pd.Series(np.median(y[train]), index=sample.index, dtype="float64")
            guess.loc[predicted.index] = predicted
            scores["regression"] = _mae(truth, guess.to_numpy()[test])
    if series_by is not None:  # on the whole column: neighbours in time are what interpolation uses
        full = frame[col].astype("float64").to_numpy()
        whole = held_out(evidence.all_hashes, ~np.isnan(full), col)
        hidden = frame[[series_by, col]].copy()
        hidden.loc[hidden.index[whole], col] = np.nan
        scores["interpolate"] = _mae(full[whole], interpolated(hidden, col, series_by).to_numpy()[whole])
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
