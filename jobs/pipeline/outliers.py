"""Outliers in numeric columns: detection (IQR, z-score, MAD) and handling (flag, clip, null, remove, median)."""
from __future__ import annotations

import math
from numbers import Real

import numpy as np
import pandas as pd

from .entries import column_stats, entry, plain
from .numbers import decimal_places
from .profile import skewness

METHODS = ("iqr", "zscore", "mad")
STRATEGIES = ("flag", "clip", "null", "remove", "median")
ZERO_SHARE = 0.2  # columns with this share of exact zeros (rain, counts) are fenced on their non-zero values
DEFAULT_THRESHOLDS = {"iqr": 3.0, "zscore": 3.5, "mad": 3.5}
# On a log scale a x100 typo moves a value only log(100) = 4.6 sigma of a lognormal with sigma 1;
# k=2 catches 82-98% of such errors while changing under 0.1% of genuine values (k=3: about 40%).
LOG_IQR_K = 2.0
MIN_VALUES = 8
SKEW_LIMIT = 1.0
EXAMPLES = 5
MAX_FLAGGED_SHARE = 0.10  # more flagged than this is a feature of the data, not an error
_LABELS = {"iqr": ("IQR", "k={:g}"), "zscore": ("z-score", "{:g} sigma"), "mad": ("MAD", "modified z {:g}")}


def _check_method(method: str, threshold: float | None) -> float:
    if method not in METHODS:
        raise ValueError(f"method must be 'iqr', 'zscore' or 'mad'; got {method!r}")
    if threshold is None:
        return DEFAULT_THRESHOLDS[method]
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not math.isfinite(threshold) \
            or threshold <= 0:
        raise ValueError(f"threshold must be a positive finite number; got {threshold!r}")
    return float(threshold)


def _numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) \
        and not pd.api.types.is_complex_dtype(dtype)


def _log_scale(values: np.ndarray, low: float, high: float) -> tuple[bool, float]:
    """Strictly positive with a heavy right tail. The skew is measured between the 1st and 99th
    percentiles (low, high) so that the gross errors being hunted cannot by themselves push a symmetric
    column onto the log scale (one x100 typo gives a normal column a skew of 30, and log-scale fences
    then clip its genuine low tail)."""
    skew = skewness(pd.Series(values[(values >= low) & (values <= high)]))
    return values.min() > 0 and skew > SKEW_LIMIT, skew


def _fences(values: np.ndarray | None, method: str, t: float,
            quartiles: tuple[float, float]) -> tuple[float, float, str] | str:
    """(lower, upper, spread measure) on the scale of `values` and `quartiles`, or why there are none."""
    if method == "iqr":
        q1, q3 = quartiles
        if q3 <= q1:
            # Half the values are tied: zero-width fences would flag every other value as an error.
            return "interquartile range is zero"
        return q1 - t * (q3 - q1), q3 + t * (q3 - q1), "iqr"
    if method == "zscore":
        centre, spread = float(values.mean()), float(values.std(ddof=1))
        return centre - t * spread, centre + t * spread, "std"
    centre = float(np.median(values))
    deviations = np.abs(values - centre)
    # |0.6745 * (x - median) / MAD| > t  <=>  |x - median| > t * MAD / 0.6745
    spread, measure = float(np.median(deviations)) / 0.6745, "mad"
    if spread == 0:
        spread, measure = float(deviations.mean()) * 1.2533, "mean_absolute_deviation"
    if spread == 0:
        return "median absolute deviation and mean absolute deviation are zero"
    return centre - t * spread, centre + t * spread, measure


def _detect(series: pd.Series, method: str, t: float, log_t: float | None = None
            ) -> tuple[np.ndarray, np.ndarray, dict, float, tuple]:
    """(flagged, values as float64 with NaN for missing, params, exact flagged share, unrounded fences).
    `log_t`: the IQR threshold on a log scale (default `t`; LOG_IQR_K when the caller chose no threshold)."""
    params: dict = {"method": method, "threshold": t}
    if not _numeric(series):
        return np.zeros(len(series), bool), np.array([]), {**params, "skipped": "not a numeric column"}, 0.0, ()
    raw = series.to_numpy(dtype="float64", na_value=np.nan)
    # Statistics come from finite values only; +/-inf still lands outside any finite fence below.
    finite = raw[np.isfinite(raw)]
    reason, zeros = None, 0.0
    if len(finite) and finite.min() >= 0 and (zeros := float((finite == 0).mean())) >= ZERO_SHARE:
        # Zero-inflated (dry days, empty counts): the zeros are a state, not the low tail of a distribution.
        params["zero_share"] = round(zeros, 4)
        params["full_skew"] = round(skewness(pd.Series(finite)), 4)
        finite = finite[finite > 0]
    if len(finite) < MIN_VALUES:
        reason = f"fewer than {MIN_VALUES} values"
    elif finite.min() == finite.max():
        reason = "no spread"
    else:
        # One partition serves both the skew trim and the IQR; quartiles commute with log up to
        # interpolation between neighbouring order statistics.
        low, q1, q3, high = np.quantile(finite, [0.01, 0.25, 0.75, 0.99])
        log, skew = _log_scale(finite, low, high)
        if log and method == "iqr" and log_t is not None:
            t = params["threshold"] = log_t
        if method == "iqr":
            fences = _fences(None, method, t, (math.log(q1), math.log(q3)) if log else (q1, q3))
        else:
            fences = _fences(np.log(finite) if log else finite, method, t, (q1, q3))
        reason = fences if isinstance(fences, str) else None
    if reason:
        return np.zeros(len(series), bool), raw, {**params, "skipped": reason}, 0.0, ()
    lower, upper, measure = fences
    if log:
        lower, upper = math.exp(lower), math.exp(upper)
    flagged = (raw < lower) | (raw > upper)  # NaN compares False, so missing values are never flagged
    if zeros >= ZERO_SHARE:
        flagged &= raw != 0
    count, present = int(flagged.sum()), int((~np.isnan(raw)).sum())
    share = count / present
    params.update(scale="log" if log else "linear", skew=round(skew, 4), spread=measure,
                  lower=plain(lower), upper=plain(upper), flagged=count, flagged_share=round(share, 4),
                  examples=[plain(v) for v in series[flagged].head(EXAMPLES)])
    return flagged, raw, params, share, (lower, upper)


def _log_threshold(chosen: float | None) -> float | None:
    """The IQR threshold on a log scale: the default one when the caller chose none (else theirs, as on any scale)."""
    return LOG_IQR_K if chosen is None else None


def detect_outliers(series: pd.Series, method: str = "iqr",
                    threshold: float | None = None) -> tuple[pd.Series, dict]:
    """Boolean mask (same index, False for missing) of outlying values, and the fences/params used."""
    t = _check_method(method, threshold)
    flagged, _, params, _, _ = _detect(series, method, t, _log_threshold(threshold))
    return pd.Series(flagged, index=series.index, name=series.name, dtype=bool), params


def _rebuild(values: np.ndarray, like: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(like.dtype):
        values = np.round(values)
        if np.isnan(values).any():
            return pd.Series(values, index=like.index, name=like.name).astype("Int64")
    return pd.Series(values, index=like.index, name=like.name).astype(like.dtype)


def handled(series: pd.Series, flagged: np.ndarray, lower: float, upper: float, strategy: str
            ) -> tuple[pd.Series, float | None]:
    """The column with its `flagged` values clipped to the fences, set missing (null) or replaced by the median
    of the rest (median, also returned)."""
    raw = series.to_numpy(dtype="float64", na_value=np.nan)
    fixed, median = raw.copy(), None
    if strategy == "clip":
        low, high = lower, upper
        # Inward rounding to the column's own decimals: clipped values look like the data (170.4, not
        # 170.42500000000004) and stay inside the fences, so a rerun flags nothing.
        scale = 10.0 ** (0 if pd.api.types.is_integer_dtype(series.dtype)
                         else decimal_places(raw[~flagged & np.isfinite(raw)]))
        if math.ceil(lower * scale) <= math.floor(upper * scale):
            low, high = math.ceil(lower * scale) / scale, math.floor(upper * scale) / scale
        fixed[flagged] = np.clip(raw[flagged], low, high)
    elif strategy == "null":
        fixed[flagged] = np.nan
    else:
        median = float(np.median(raw[~flagged & ~np.isnan(raw)]))
        if pd.api.types.is_integer_dtype(series.dtype):
            median = float(round(median))
        fixed[flagged] = median
    return _rebuild(fixed, series), median


def _free_name(base: str, taken: set) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def _num(value: float) -> str:
    return f"{value:.6g}"


def _pct(share: float) -> str:
    return f"{share:.1%}".replace(".0%", "%")


def _describe(params: dict) -> str:
    if params["method"] == "domain":
        return "outside the range the quantity can take"
    if params["method"] == "plan":
        return "the applied plan's fences, learned on its batch"
    name, threshold = _LABELS[params["method"]]
    text = f"{name}, {threshold.format(params['threshold'])}, {params['scale']} scale"
    return text + (", mean-deviation fallback" if params["spread"] == "mean_absolute_deviation" else "")


_PERCENT_WORDS = frozenset({"perc", "pct", "percent", "percentage", "share", "rate"})


def domain_bounds(series: pd.Series, words: list[str], role: str) -> tuple[float, float] | None:
    """The range a bounded quantity cannot leave (coordinates, percentages); inside it nothing is an outlier."""
    if role == "coordinate":
        return (-90.0, 90.0) if {"lat", "latitude"} & set(words) else (-180.0, 180.0)
    if _numeric(series) and (_PERCENT_WORDS & set(words) or any(w.startswith("perc") for w in words)):
        values = series.dropna()
        if len(values) and values.between(0, 100).mean() >= 0.99:
            return (0.0, 100.0) if values.max() > 1 else (0.0, 1.0)
    return None


def outside(series: pd.Series, lower: float, upper: float, zeros_kept: bool = False) -> np.ndarray:
    """Values outside the fences (missing ones never; zeros never where the fences were drawn without them)."""
    raw = series.to_numpy(dtype="float64", na_value=np.nan)
    found = (raw < lower) | (raw > upper)
    return found & (raw != 0) if zeros_kept else found


def _out_of_domain(series: pd.Series, bounds: tuple[float, float], method: str = "domain", zeros_kept: bool = False
                   ) -> tuple[np.ndarray, np.ndarray, dict, float, tuple]:
    """Values outside given bounds: a quantity's domain, or the fences a plan learned on its batch."""
    raw = series.to_numpy(dtype="float64", na_value=np.nan)
    lower, upper = bounds
    flagged = outside(series, lower, upper, zeros_kept)
    present = int((~np.isnan(raw)).sum())
    count = int(flagged.sum())
    params = {"method": method, "threshold": None, "scale": "bounded", "spread": method, "skew": None,
              "lower": lower, "upper": upper, "flagged": count, "flagged_share": round(count / present, 4) if present
              else 0.0, "examples": [plain(v) for v in series[flagged].head(EXAMPLES)]}
    return flagged, raw, params, count / present if present else 0.0, bounds


def handle_outliers(frame: pd.DataFrame, *, method: str = "iqr", strategy: str = "flag",
                    threshold: float | None = None, max_flagged_share: float = MAX_FLAGGED_SHARE,
                    columns: list[str] | None = None, flag_columns: bool = False,
                    bounds: dict[str, tuple[float, float]] | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Detect outliers in each numeric column and flag (default: log only), clip, null, remove or replace them.

    `bounds` gives bounded columns (coordinates, percentages) their domain: only values outside it count.
    The input is not changed.
    """
    out, logs, _ = _handle(frame, method, strategy, threshold, max_flagged_share, columns, flag_columns, bounds, {})
    return out, logs


def outliers_and_fences(frame: pd.DataFrame, *, method: str = "iqr", strategy: str = "flag",
                        columns: list[str] | None = None, flag_columns: bool = False,
                        bounds: dict[str, tuple[float, float]] | None = None,
                        fences: dict[str, dict] | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """`handle_outliers`, its log ending with `outlier_fences`: every checked column's fences, as a plan keeps
    them for the next batch. `fences` are a plan's (`lower`, `upper`, `zeros_kept`): they replace detection."""
    out, logs, learned = _handle(frame, method, strategy, None, MAX_FLAGGED_SHARE, columns, flag_columns, bounds,
                                 fences or {})
    if learned:
        logs.append(entry("outlier_fences", params={"method": method, "strategy": strategy, "fences": learned},
                          message=f"The fences of the {len(learned)} numeric column{'s' if len(learned) != 1 else ''}"
                                  f" checked{' (as the plan gave them)' if fences else ''}: values outside them are "
                                  "outliers. A plan applies them to the next batch."))
    return out, logs


def _check_arguments(frame: pd.DataFrame, strategy: str, max_flagged_share: float, columns) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    if isinstance(max_flagged_share, bool) or not isinstance(max_flagged_share, Real) \
            or not 0 < max_flagged_share <= 1:
        raise ValueError(f"max_flagged_share must be in (0, 1]; got {max_flagged_share!r}")
    if columns is not None:
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            raise ValueError(f"columns not in the frame: {unknown!r}")


def _too_many(series: pd.Series, name, params: dict, share: float, span: str, how: str, max_flagged_share: float
              ) -> dict:
    return entry("outliers_reported", column=str(name), params={**params, "max_flagged_share": plain(max_flagged_share)},
                 before=column_stats(series), after=column_stats(series),
                 message=f"{_pct(share)} of values lie outside the fences {span} ({how}); more than "
                         f"{_pct(max_flagged_share)} is " + ("drift from the plan's batch" if params["method"] == "plan"
                                                            else "a feature of the data") + ", not an error: left "
                         "unchanged.")


class _Handling:
    """One pass over the columns: what each strategy changes, and the rows `remove` drops at the end."""

    def __init__(self, frame: pd.DataFrame, strategy: str, flag_columns: bool):
        self.frame, self.strategy, self.flag_columns = frame, strategy, flag_columns
        self.out = frame.copy(deep=False)  # copy-on-write: columns are copied only where a value changes
        self.logs: list[dict] = []
        self.flags: dict = {}
        self.doomed = np.zeros(len(frame), bool)
        self.removed: list[tuple[int, int]] = []  # (log index, column position) whose "after" waits for the drop
        self.taken = set(frame.columns)

    def apply(self, position: int, name, flagged: np.ndarray, raw: np.ndarray, params: dict, fence: tuple) -> None:
        series, (lower, upper) = self.frame.iloc[:, position], fence
        count, span, how = params["flagged"], f"[{_num(lower)}, {_num(upper)}]", _describe(params)
        after = None
        if self.strategy == "remove":
            self.doomed |= flagged
            self.removed.append((len(self.logs), position))
            message = f"Removed {count:,} rows with values outside {span} ({how})."
        elif self.strategy == "flag":
            message = self._flag(name, series, flagged, raw, params, span, how)
            after = column_stats(series)
        else:
            new, message = self._change(series, flagged, params, fence, span, how)
            self.out.isetitem(position, new)
            after = column_stats(new)
        self.logs.append(entry(f"outliers_{self.strategy}", column=str(name), count=count, params=params,
                               before=column_stats(series), after=after, message=message))

    def _flag(self, name, series, flagged, raw, params, span, how) -> str:
        params["rows"] = np.flatnonzero(flagged)[:100].tolist()
        message = f"Flagged {params['flagged']:,} values outside {span} ({how}), left unchanged: e.g. " \
                  f"{', '.join(_num(v) for v in raw[flagged][:3])}."
        if self.flag_columns:
            flag_name = _free_name(f"{name}_outlier", self.taken)
            self.taken.add(flag_name)
            self.flags[flag_name] = pd.Series(flagged, index=self.frame.index, dtype=bool)
            params["flag_column"] = str(flag_name)
            message += f" Marked in new column {str(flag_name)!r}."
        return message

    def _change(self, series, flagged, params, fence, span, how) -> tuple[pd.Series, str]:
        new, median = handled(series, flagged, *fence, self.strategy)
        count = params["flagged"]
        if self.strategy == "clip":
            return new, f"Clipped {count:,} values outside {span} ({how})."
        if self.strategy == "null":
            return new, f"Set {count:,} values outside {span} to missing ({how})."
        params["median"] = plain(median)
        return new, f"Replaced {count:,} values outside {span} with the median of the rest ({_num(median)}) ({how})."

    def finish(self, method: str, t: float) -> tuple[pd.DataFrame, list[dict]]:
        out, logs = self.out, self.logs
        if self.flags:
            out = pd.concat([out, pd.DataFrame(self.flags, index=self.frame.index)], axis=1)
        if self.removed:
            total = int(self.doomed.sum())
            out = out.loc[~self.doomed].reset_index(drop=True)
            for index, position in self.removed:
                logs[index]["after"] = column_stats(out.iloc[:, position])
            logs.append(entry("remove_outlier_rows", count=total,
                              params={"method": method, "threshold": t,
                                      "columns": [logs[i]["column"] for i, _ in self.removed]},
                              before={"rows": len(self.frame)}, after={"rows": len(out)},
                              message=f"Removed {total:,} rows with an outlier in at least one of "
                                      f"{len(self.removed)} columns."))
        return out, logs


def _handle(frame, method, strategy, threshold, max_flagged_share, columns, flag_columns, bounds, fences):
    t = _check_method(method, threshold)
    _check_arguments(frame, strategy, max_flagged_share, columns)
    wanted = None if columns is None else set(columns)
    bounds, learned = bounds or {}, {}
    handling = _Handling(frame, strategy, flag_columns)
    for position, name in enumerate(frame.columns):
        if wanted is not None and name not in wanted:
            continue
        series = frame.iloc[:, position]
        if str(name) in fences and _numeric(series):
            fence = fences[str(name)]
            flagged, raw, params, share, found = _out_of_domain(series, (fence["lower"], fence["upper"]), "plan",
                                                                fence.get("zeros_kept", False))
        elif name in bounds:
            flagged, raw, params, share, found = _out_of_domain(series, bounds[name])
        else:
            flagged, raw, params, share, found = _detect(series, method, t, _log_threshold(threshold))
        if found:  # exact: a plan judges the next batch by these
            learned[str(name)] = {"lower": float(found[0]), "upper": float(found[1]), "zeros_kept": bool(
                params.get("zero_share") is not None or (fences.get(str(name)) or {}).get("zeros_kept", False))}
        if "skipped" in params or not params["flagged"]:
            continue
        if share > max_flagged_share or share == 1:  # fences that exclude everything describe nothing
            span = f"[{_num(found[0])}, {_num(found[1])}]"
            handling.logs.append(_too_many(series, name, params, share, span, _describe(params), max_flagged_share))
            continue
        handling.apply(position, name, flagged, raw, params, found)
    out, logs = handling.finish(method, t)
    return out, logs, learned
