"""Helpers behind the EDA figures: statistics, bins, boxes, correlations, axes, labels, notes, logs."""
from __future__ import annotations

import math
from collections import Counter
from numbers import Integral

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import Formatter, LogLocator, MaxNLocator, NullLocator

from .entries import entry, plain, short
from .profile import ROLES, column_role, skewness

TOP_VALUES = 5
MIN_BINS, MAX_BINS = 10, 50
MAX_FLIERS = 1_000  # outlier dots drawn per box plot; more only overplot and slow the drawing
RANK_ROWS = 2_000  # rows used to rank many columns for the heatmap: enough to order mean |r|
LIMITS = {"max_figures": (0, 10_000), "sample_rows": (1, 10**9), "top_k": (1, 50), "heatmap_max": (2, 100),
          "dpi": (20, 600)}
SKIPS = {"id": "identifier-like", "constant": "constant", "all_missing": "entirely missing", "text": "free-text",
         "figure_cap": "beyond the figure cap", "chart_failed": "undrawable"}


def float_values(series: pd.Series) -> np.ndarray:
    """The column as float64 with NaN for missing, for numpy and nullable dtypes alike."""
    return series.to_numpy(dtype="float64", na_value=np.nan)


def value_counts(series: pd.Series) -> pd.Series:
    try:
        counts = series.value_counts(dropna=True, sort=True)
    except TypeError:  # unhashable cells (lists, dicts from JSON) are counted by their text
        counts = series.dropna().astype("str").value_counts()
    return counts[counts > 0]  # categorical dtypes also list unused categories, with count 0


def column_statistics(series: pd.Series, role: str, numbers: np.ndarray | None,
                      counts: pd.Series | None) -> dict:
    """Plain JSON-safe statistics over all rows; `numbers` for numeric roles, `counts` for the others."""
    rows, missing = len(series), int(series.isna().sum())
    stats = {"role": role, "dtype": str(series.dtype), "count": rows - missing, "missing": missing,
             "missing_share": round(missing / rows, 4) if rows else 0.0}
    if numbers is not None:
        present = numbers[~np.isnan(numbers)]
        stats["distinct"] = int(pd.unique(present).size)
        if present.size:
            with np.errstate(invalid="ignore", over="ignore"):  # inf values make some moments undefined
                low, p25, median, p75, high = np.percentile(present, [0, 25, 50, 75, 100])
                std = plain(present.std(ddof=1)) if present.size > 1 else None
                stats.update(mean=plain(present.mean()), std=std, min=plain(low), p25=plain(p25),
                             median=plain(median), p75=plain(p75), max=plain(high), skew=round(skewness(series), 4))
        return stats
    stats["distinct"] = int(len(counts))
    if role == "datetime" and len(counts):
        stats.update(min=plain(series.min()), max=plain(series.max()))
    stats["top_values"] = [{"value": _shown(k), "count": int(v)} for k, v in counts.head(TOP_VALUES).items()]
    return stats


def _shown(value):
    """A value for the statistics: long text cut (the data keeps it whole)."""
    value = plain(value)
    return short(value) if isinstance(value, str) else value


def _bin_count(values: np.ndarray) -> int:
    # Freedman-Diaconis width, clamped: enough bars to show shape, few enough to stay legible
    q25, q75 = np.percentile(values, [25, 75])
    span = float(values.max() - values.min())
    if q75 > q25 and math.isfinite(span):
        bins = span / (2 * (q75 - q25) / np.cbrt(values.size))
    else:
        bins = np.sqrt(values.size)
    return int(np.clip(bins, MIN_BINS, MAX_BINS))


def histogram_edges(values: np.ndarray, log: bool) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if low == high:
        return np.array([low / 1.5, low * 1.5]) if log else np.array([low - 0.5, high + 0.5])
    if log:
        return np.logspace(np.log10(low), np.log10(high), _bin_count(np.log10(values)) + 1)
    if high - low <= MAX_BINS and (values == np.round(values)).all():
        return np.arange(low - 0.5, high + 1.5)  # whole numbers: one bar per value, centred on it
    return np.linspace(low, high, _bin_count(values) + 1)


def box_statistics(values: np.ndarray) -> tuple[dict, int]:
    """Matplotlib `bxp` statistics (1.5 IQR whiskers) and the number of points beyond the whiskers."""
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    low_fence, high_fence = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    inside = (values >= low_fence) & (values <= high_fence)
    fliers = np.sort(values[~inside])
    outliers = fliers.size
    if fliers.size > MAX_FLIERS:  # evenly through the sorted outliers: keeps the extremes and the density
        fliers = fliers[np.linspace(0, fliers.size - 1, MAX_FLIERS).astype(int)]
    return {"med": median, "q1": q1, "q3": q3, "whislo": values[inside].min(), "whishi": values[inside].max(),
            "mean": values.mean(), "fliers": fliers}, outliers


def _scaled(matrix: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Centred and scaled to unit spread, zero where missing: products then neither cancel nor overflow."""
    counts = present.sum(axis=0)
    filled = np.where(present, matrix, 0.0)
    means = np.divide(filled.sum(axis=0), counts, out=np.zeros(matrix.shape[1]), where=counts > 0)
    centred = np.where(present, matrix - means, 0.0)
    scale = np.abs(centred).max(axis=0)
    return centred / np.where(scale > 0, scale, 1.0)


def correlation(matrix: np.ndarray) -> np.ndarray:
    """Pearson r over pairwise-complete rows (as DataFrame.corr), through matrix products."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        matrix = np.where(np.isfinite(matrix), matrix, np.nan)
        present = ~np.isnan(matrix)
        x = _scaled(matrix, present)
        if present.all():
            norms = np.sqrt((x * x).sum(axis=0))
            r = (x.T @ x) / np.outer(norms, norms)
        else:
            mask = present.astype("float64")
            pairs = mask.T @ mask
            sums = x.T @ mask  # sums[i, j]: column i summed over rows where j is present too
            squares = (x * x).T @ mask
            cov = x.T @ x - sums * sums.T / pairs
            var = squares - sums ** 2 / pairs
            r = cov / np.sqrt(var * var.T)
            r[pairs < 3] = np.nan
    return np.clip(r, -1.0, 1.0)


def strongest_columns(matrix: np.ndarray, keep: int) -> np.ndarray:
    """Positions (ascending) of the `keep` columns with the largest mean |r| with the other columns."""
    rows = np.linspace(0, len(matrix) - 1, min(len(matrix), RANK_ROWS)).astype(int)
    sub = np.where(np.isfinite(matrix[rows]), matrix[rows], np.nan)
    # Missing cells count as the column mean here: one product instead of four, and ranking needs no
    # pairwise precision (sparse columns rank a little lower, which suits a summary chart).
    x = _scaled(sub, ~np.isnan(sub))
    with np.errstate(invalid="ignore", divide="ignore"):
        norms = np.sqrt((x * x).sum(axis=0))
        r = np.abs((x.T @ x) / np.outer(norms, norms))
    np.fill_diagonal(r, 0.0)
    mean_abs = np.nan_to_num(r).sum(axis=0) / max(matrix.shape[1] - 1, 1)
    return np.sort(np.argsort(-mean_abs, kind="stable")[:keep])


def compact(value: float) -> str:
    """1.2k, 3.4M, 0.25: short tick and annotation numbers."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit * 0.9995:
            return f"{value / limit:.3g}{suffix}"
    return "0" if size == 0 else f"{value:.3g}"


def percent(share: float) -> str:
    """A share as text that never rounds a partial share up to 100% or down to 0%."""
    if 0 < share < 0.01:
        return "<1%"
    if 0.99 < share < 1:
        return f"{share:.1%}"
    return f"{share:.0%}"


class CompactFormatter(Formatter):
    """Compact tick labels; falls back to more digits when rounding would repeat a label."""

    def __call__(self, x, pos=None):
        return compact(x)

    def format_ticks(self, values):
        labels = [compact(v) for v in values]
        return labels if len(set(labels)) == len(labels) else [f"{v:.6g}" for v in values]


def clip(text, limit: int) -> str:
    """One line of at most `limit` characters, cut with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def shorten(text, limit: int) -> str:
    """`clip`, with '$' escaped so matplotlib never reads the text as math."""
    return clip(text, limit).replace("$", r"\$")


def judge_role(series: pd.Series, name: str) -> str:
    try:
        return column_role(series, name)
    except TypeError:  # unhashable cells (lists, dicts): judge the column by its text
        return column_role(series.astype("str").where(series.notna()), name)


def column_names(labels) -> list[str]:
    """Text keys for JSON, one per column even when labels repeat; long names cut (the data keeps them)."""
    names: list[str] = []
    seen: set[str] = set()
    for position, label in enumerate(labels):
        name = short(str(label))
        names.append(f"{name} [{position}]" if name in seen else name)
        seen.add(names[-1])
    return names


def chart_values(array: np.ndarray, picks: np.ndarray | None, keep) -> tuple[np.ndarray, bool]:
    """Chartable values from the sampled rows, or from all rows when the sample happens to hold none."""
    if picks is not None:
        sample = array[picks]
        sample = sample[keep(sample)]
        if sample.size:
            return sample, True
    return array[keep(array)], False


def column_note(reason: str, stats: dict) -> str:
    if reason == "all_missing":
        return "Every value is missing, so no chart is drawn."
    if reason == "id":
        unique = "every value is unique" if stats["distinct"] == stats["count"] else \
            f"{percent(stats['distinct'] / stats['count'])} of values are unique"
        return f"Identifier-like: {unique}, so no chart is drawn."
    if reason == "constant":
        value = stats["top_values"][0]["value"] if stats.get("top_values") else stats.get("min")
        return f"Constant: every value is {value!r}, so no chart is drawn."
    return f"Free text: {stats['distinct']:,} distinct values, too many to chart."


def check_parameters(frame, roles, **numbers) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    for key, value in numbers.items():
        low, high = LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
            raise ValueError(f"{key} must be an integer from {low:,} to {high:,}; got {value!r}")
    if roles is None:
        return
    if not isinstance(roles, dict):
        raise ValueError(f"roles must be a dict of column name to role; got {type(roles).__name__}")
    positions = {str(c): position for position, c in enumerate(frame.columns)}
    for name, role in roles.items():
        if role not in ROLES:
            raise ValueError(f"roles[{name!r}] must be one of {', '.join(ROLES)}; got {role!r}")
        if name not in positions:
            raise ValueError(f"roles names {name!r}, which is not a column of the frame")
        dtype = frame.iloc[:, positions[name]].dtype
        if role == "numeric" and not pd.api.types.is_numeric_dtype(dtype) or \
                role == "datetime" and not pd.api.types.is_datetime64_any_dtype(dtype):
            raise ValueError(f"roles[{name!r}] is {role!r} but the column's dtype is {dtype}")


def value_axis(ax: Axes, log: bool, low: float, high: float, pad: float = 0.0) -> None:
    ax.set_xscale("log" if log else "linear")
    if log:
        span = float(np.log10(high / low)) if high > low else 0.0
        low, high = (low / 10 ** (span * pad), high * 10 ** (span * pad)) if span else (low / 2, high * 2)
        # Decades alone leave a narrow range with one tick or none: add 2 and 5 times each power then.
        ax.xaxis.set_major_locator(LogLocator(numticks=7) if span >= 2 else LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_locator(NullLocator())
    else:
        margin = (high - low) * pad if high > low else 0.5
        low, high = (low - margin, high + margin) if pad or high == low else (low, high)
        ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_major_formatter(CompactFormatter())
    ax.set_xlim(low, high)


def count_axis(ax: Axes, which: str, top: float) -> None:
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(MaxNLocator(4, integer=True))
    axis.set_major_formatter(CompactFormatter())
    (ax.set_xlim if which == "x" else ax.set_ylim)(0, max(float(top), 1.0) * 1.08)


def eda_logs(figures: list[dict], skips: dict[str, list], statistics: dict, max_figures: int) -> list[dict]:
    kinds, sampled = dict(Counter(f["kind"] for f in figures)), statistics["sampled_rows"]
    drawn = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "none"
    params = {"figures_by_kind": kinds, "rows": statistics["rows"], "columns": statistics["column_count"],
              "sampled_rows": sampled, "max_figures": max_figures,
              "skipped_by_cap": len(statistics["figure_cap"]["skipped"])}
    tail = f"; distributions use a sample of {sampled:,} of {statistics['rows']:,} rows." if sampled else "."
    logs = [entry("eda_summary", count=len(figures), params=params,
                  message=f"Drew {len(figures)} figures ({drawn}) for {statistics['column_count']} columns{tail}")]
    for reason, names in skips.items():
        listed = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
        logs.append(entry("eda_skip", count=len(names), params={"reason": reason, "columns": names[:200]},
                          message=f"No chart for {len(names)} {SKIPS[reason]} column(s): {listed}."))
    return logs
