"""Correlation analysis: Pearson and Spearman with p-values for numeric pairs, the correlation ratio for a number
against a category, Cramér's V for two categories; the strongest pairs listed. Bounded on wide data."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

MAX_NUMERIC, MAX_CATEGORICAL, MAX_LEVELS = 30, 15, 50
TOP_PAIRS = 20
MIN_ROWS = 10  # pairs with fewer rows in common get no measure
ROWS_PER_LEVEL = 10
SIGNIFICANT = 0.05
STRENGTH = ((0.7, "strong"), (0.4, "moderate"), (0.2, "weak"))


def _label(value: float) -> str:
    return next((name for bound, name in STRENGTH if abs(value) >= bound), "negligible")


def pairwise_pearson(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of every column pair over the rows where both are present, and those row counts."""
    valid = np.isfinite(x)
    v = valid.astype(float)
    x0 = np.where(valid, x, 0.0)
    n = v.T @ v
    sx = x0.T @ v  # sum of column i over the rows where column j is present
    sxx = (x0 * x0).T @ v
    with np.errstate(all="ignore"):
        cov = n * (x0.T @ x0) - sx * sx.T
        r = cov / np.sqrt((n * sxx - sx * sx) * (n * sxx - sx * sx).T)
    return np.clip(r, -1.0, 1.0), n


def pearson_with(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of `y` against each column of `x` over the rows where both are present, and those row
    counts: one row of pairwise_pearson's matrix at the cost of one column pair per column."""
    both = np.isfinite(x) & np.isfinite(y)[:, None]
    x0, y0 = np.where(both, x, 0.0), np.where(both, y[:, None], 0.0)
    n = both.sum(axis=0).astype(float)
    sx, sy = x0.sum(axis=0), y0.sum(axis=0)
    with np.errstate(all="ignore"):
        cov = n * (x0 * y0).sum(axis=0) - sx * sy
        r = cov / np.sqrt((n * (x0 * x0).sum(axis=0) - sx * sx) * (n * (y0 * y0).sum(axis=0) - sy * sy))
    return np.clip(r, -1.0, 1.0), n


def _p_r(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a correlation coefficient (the t test scipy.stats.pearsonr uses)."""
    with np.errstate(all="ignore"):
        t = r * np.sqrt((n - 2) / np.maximum(1e-300, 1 - r * r))
    return 2 * stats.t.sf(np.abs(t), np.maximum(n - 2, 1))


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks of each column over its present values (NaN stays NaN)."""
    out = np.full_like(x, np.nan)
    for j in range(x.shape[1]):
        present = np.isfinite(x[:, j])
        out[present, j] = stats.rankdata(x[present, j])
    return out


def _numeric_pairs(names: list[str], x: np.ndarray) -> list[dict]:
    pearson, n = pairwise_pearson(x)
    spearman, _ = pairwise_pearson(_ranks(x))
    p_pearson, p_spearman = _p_r(pearson, n), _p_r(spearman, n)
    pairs = []
    for i, j in zip(*np.triu_indices(len(names), 1)):
        if n[i, j] < MIN_ROWS or not np.isfinite(pearson[i, j]):
            continue
        for measure, value, p in (("pearson", pearson[i, j], p_pearson[i, j]), ("spearman", spearman[i, j],
                                                                                 p_spearman[i, j])):
            if not (np.isfinite(value) and np.isfinite(p)):
                continue
            pairs.append({"columns": [names[i], names[j]], "measure": measure, "value": round(float(value), 4),
                          "strength": _label(value), "n": int(n[i, j]), "p_value": float(f"{p:.3g}")})
    return pairs


def _correlation_ratio(codes: np.ndarray, y: np.ndarray) -> tuple[float, float, int] | None:
    """(eta, p of the one-way ANOVA F test, n): how much of a number's variance its category explains."""
    both = (codes >= 0) & np.isfinite(y)
    codes, y = codes[both], y[both]
    levels = int(codes.max()) + 1 if len(codes) else 0
    if len(y) < MIN_ROWS or levels < 2:
        return None
    counts = np.bincount(codes, minlength=levels)
    means = np.bincount(codes, weights=y, minlength=levels) / np.maximum(counts, 1)
    total = float(((y - y.mean()) ** 2).sum())
    between = float((counts * (means - y.mean()) ** 2).sum())
    k = int((counts > 0).sum())
    if total <= 0 or k < 2 or len(y) <= k:
        return None
    eta2 = min(1.0, between / total)
    f = (eta2 / (k - 1)) / max(1e-300, (1 - eta2) / (len(y) - k))
    return float(np.sqrt(eta2)), float(stats.f.sf(f, k - 1, len(y) - k)), len(y)


def _cramers_v(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int] | None:
    """(Cramér's V, p of the chi-squared test of independence, n) for two coded categories."""
    both = (a >= 0) & (b >= 0)
    a, b = a[both], b[both]
    if len(a) < MIN_ROWS:
        return None
    ka, kb = int(a.max()) + 1, int(b.max()) + 1
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return None
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    v = np.sqrt(chi2 / (len(a) * (min(table.shape) - 1)))
    return float(min(1.0, v)), float(p), len(a)


def correlations(numeric: dict[str, np.ndarray], categorical: dict[str, pd.Series], rank) -> dict:
    """The strongest pairs across numeric and categorical columns, each with its measure, strength, n and p.

    `numeric`: name → float values (a row sample on long tables); `categorical`: name → the same rows' values.
    `rank(matrix, keep)` picks the numeric columns kept on wide data (those most correlated with the rest).
    """
    names = list(numeric)
    kept_numeric = names
    if len(names) > MAX_NUMERIC:
        keep = rank(np.column_stack([numeric[n] for n in names]), MAX_NUMERIC)
        kept_numeric = [names[i] for i in keep]
    levels = {c: s.nunique() for c, s in categorical.items()}
    # Ten rows a level on average: with a level per row or two, any number "depends" on the category by chance.
    rows = max((len(s) for s in categorical.values()), default=0)
    kept_categorical = [c for c in categorical if 2 <= levels[c] <= min(MAX_LEVELS, rows / ROWS_PER_LEVEL)
                        ][:MAX_CATEGORICAL]
    pairs = _numeric_pairs(kept_numeric, np.column_stack([numeric[n] for n in kept_numeric])) \
        if len(kept_numeric) >= 2 else []
    codes = {c: pd.factorize(categorical[c], use_na_sentinel=True)[0] for c in kept_categorical}
    for c in kept_categorical:
        for name in kept_numeric:
            found = _correlation_ratio(codes[c], numeric[name])
            if found and np.isfinite(found[1]):
                pairs.append({"columns": [c, name], "measure": "correlation_ratio", "value": round(found[0], 4),
                              "strength": _label(found[0]), "n": found[2], "p_value": float(f"{found[1]:.3g}")})
    for i, a in enumerate(kept_categorical):
        for b in kept_categorical[i + 1:]:
            found = _cramers_v(codes[a], codes[b])
            if found and np.isfinite(found[1]):
                pairs.append({"columns": [a, b], "measure": "cramers_v", "value": round(found[0], 4),
                              "strength": _label(found[0]), "n": found[2], "p_value": float(f"{found[1]:.3g}")})
    # Significant pairs first (p < 0.05), each group by strength: a strong value on a few rows may be chance.
    pairs.sort(key=lambda p: (p["p_value"] >= SIGNIFICANT, -abs(p["value"]), p["measure"], p["columns"]))
    return {"pairs": pairs[:TOP_PAIRS], "pairs_measured": len(pairs),
            "numeric_columns": kept_numeric, "categorical_columns": kept_categorical,
            "rule": (f"Pearson and Spearman (ranks over each column's present values) for up to {MAX_NUMERIC} numeric "
                     f"columns (those most correlated with the others when there are more), the correlation ratio "
                     f"for a number against a category and Cramér's V for two categories (up to {MAX_CATEGORICAL} "
                     f"categorical columns of 2–{MAX_LEVELS} levels); p-values from the t, F and chi-squared "
                     f"tests; categories need ten rows a level; the {TOP_PAIRS} strongest pairs by |value|, those "
                     f"with p < {SIGNIFICANT} first.")}


def heatmap_order(names: list[str], found: dict) -> list[str]:
    """The heatmap's columns, those in the strongest numeric pairs first (the order pairs are listed in)."""
    order: list[str] = []
    for pair in found.get("pairs", []):
        if pair["measure"] in ("pearson", "spearman"):
            order += [c for c in pair["columns"] if c in names and c not in order]
    return order + [n for n in names if n not in order]
