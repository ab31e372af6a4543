"""Correlation analysis: the measures agree with scipy's own tests, the strongest pairs come first, wide data is bounded."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from jobs.pipeline.correlations import MAX_NUMERIC, correlations, heatmap_order
from jobs.pipeline.eda import run_eda
from jobs.pipeline.eda_stats import strongest_columns

RNG = np.random.default_rng(11)
N = 600


def _pair(found: dict, a: str, b: str, measure: str) -> dict:
    return next(p for p in found["pairs"] if set(p["columns"]) == {a, b} and p["measure"] == measure)


def _frame() -> pd.DataFrame:
    x = RNG.normal(size=N)
    return pd.DataFrame({"x": x, "linear": 3 * x + RNG.normal(0, 0.5, N), "monotone": np.exp(2 * x),
                         "noise": RNG.normal(size=N), "group": np.where(x > 0.5, "high", "low"),
                         "shade": np.where(x > 0.5, "dark", RNG.choice(["light", "dark"], N)),
                         "other": RNG.choice(list("abcd"), N)})


def test_measures_match_scipy_and_the_strongest_come_first():
    frame = _frame()
    frame.loc[::7, "linear"] = np.nan  # pairwise-complete rows
    found = run_eda(frame)[0]["correlations"]
    both = frame[["x", "linear"]].dropna()
    r, p = stats.pearsonr(both["x"], both["linear"])
    pearson = _pair(found, "x", "linear", "pearson")
    assert pearson["value"] == pytest.approx(r, abs=1e-4) and pearson["n"] == len(both)
    assert pearson["strength"] == "strong" and pearson["p_value"] == pytest.approx(p, abs=1e-12)
    rho, _ = stats.spearmanr(frame["x"], frame["monotone"])
    spearman = _pair(found, "x", "monotone", "spearman")
    assert spearman["value"] == pytest.approx(rho, abs=1e-4) == 1.0
    assert spearman["value"] > _pair(found, "x", "monotone", "pearson")["value"]  # monotone, not linear
    significant = [p for p in found["pairs"] if p["p_value"] < 0.05]
    assert found["pairs"][:len(significant)] == significant  # significant pairs first, then by strength
    values = [abs(p["value"]) for p in significant]
    assert values == sorted(values, reverse=True)
    assert all(p["strength"] in ("strong", "moderate", "weak", "negligible") for p in found["pairs"])


def test_category_measures_match_the_anova_and_chi_squared_tests():
    frame = _frame()
    found = correlations({c: frame[c].to_numpy(float) for c in ("x", "noise")},
                         {c: frame[c] for c in ("group", "shade", "other")}, strongest_columns)
    ratio = _pair(found, "group", "x", "correlation_ratio")
    _, p = stats.f_oneway(*[g["x"].to_numpy() for _, g in frame.groupby("group")])
    assert ratio["value"] > 0.7 and ratio["p_value"] == pytest.approx(p, rel=5e-3)  # p-values keep 3 significant digits
    chi2, p, _, _ = stats.chi2_contingency(pd.crosstab(frame["group"], frame["shade"]), correction=False)
    v = _pair(found, "group", "shade", "cramers_v")
    assert v["value"] == pytest.approx(np.sqrt(chi2 / N), abs=1e-4) and v["p_value"] == pytest.approx(p, rel=5e-3)
    assert _pair(found, "group", "other", "cramers_v")["strength"] in ("negligible", "weak")


def test_wide_data_is_bounded_and_the_rule_says_how():
    wide = {f"c{i}": RNG.normal(size=N) for i in range(MAX_NUMERIC + 15)}
    wide["c3"] = wide["c1"] * 2 + RNG.normal(0, 0.1, N)
    found = correlations(wide, {}, strongest_columns)
    assert len(found["numeric_columns"]) == MAX_NUMERIC and {"c1", "c3"} <= set(found["numeric_columns"])
    assert len(found["pairs"]) == 20 and set(found["pairs"][0]["columns"]) == {"c1", "c3"}
    assert str(MAX_NUMERIC) in found["rule"]


def test_the_heatmap_puts_the_strongest_pair_first():
    found = {"pairs": [{"columns": ["b", "d"], "measure": "pearson"}, {"columns": ["g", "a"], "measure": "cramers_v"}]}
    assert heatmap_order(["a", "b", "c", "d"], found) == ["b", "d", "a", "c"]
    statistics = run_eda(_frame())[0]
    assert statistics["heatmap"]["columns"][:2] in (["x", "monotone"], ["monotone", "x"])


def test_tiny_and_empty_inputs_give_no_pairs():
    assert correlations({}, {}, strongest_columns)["pairs"] == []
    few = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([2.0, 4.0, 7.0])}
    assert correlations(few, {"g": pd.Series(["x", "y", "x"])}, strongest_columns)["pairs"] == []


def test_a_category_with_a_level_per_few_rows_is_left_out_and_chance_comes_last():
    n = 60
    rng = np.random.default_rng(4)
    numbers = {"rating": rng.normal(size=n), "price": rng.normal(size=n)}
    numbers["cost"] = numbers["price"] * 0.5 + rng.normal(0, 0.1, n)
    found = correlations(numbers, {"customer": pd.Series([f"c{i // 2}" for i in range(n)]),
                                   "city": pd.Series(rng.choice(["a", "b"], n))}, strongest_columns)
    assert found["categorical_columns"] == ["city"]  # 30 customers for 60 rows: any number would "depend" on them
    assert set(found["pairs"][0]["columns"]) == {"price", "cost"} and found["pairs"][0]["p_value"] < 0.05
