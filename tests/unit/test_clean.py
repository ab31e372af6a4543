"""Cleaning: duplicates, sparse columns, missing-value decisions and how they are applied."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.clean import drop_duplicates, drop_sparse_columns
from jobs.pipeline.choose import gather_evidence, heuristic_decision
from jobs.pipeline.decide import DecisionError, validate_decision
from jobs.pipeline.impute import apply_decisions
from jobs.pipeline.plan import advisor_columns, plan_missing
from jobs.pipeline.profile import column_role
from jobs.pipeline.runner import PipelineOptions, run_pipeline


def roles(frame: pd.DataFrame) -> dict[str, str]:
    return {c: column_role(frame[c], c) for c in frame.columns}


def fill(frame: pd.DataFrame, **kw):
    plans, _ = plan_missing(frame, roles(frame), "fast")
    return apply_decisions(frame, plans, **kw)


def test_exact_duplicates_removed():
    frame = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "x"]})
    out, logs = drop_duplicates(frame)
    assert len(out) == 2 and logs[0]["count"] == 1


def test_sparse_and_empty_columns_dropped_but_target_kept():
    frame = pd.DataFrame({"mostly": [None, None, None, 1.0], "target": [None, None, None, 1.0],
                          "empty": [None] * 4, "ok": [1, 2, 3, 4]})
    out, logs = drop_sparse_columns(frame, 0.5, keep={"target"})
    assert list(out.columns) == ["target", "ok"]
    assert {e["column"] for e in logs} == {"mostly", "empty"}


def test_skewed_numbers_get_median_symmetric_get_mean():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"skewed": np.append(rng.exponential(10, 500), np.nan),
                          "symmetric": np.append(rng.normal(0, 1, 500), np.nan)})
    evidence, missing = gather_evidence(frame, roles(frame)), frame.isna().mean()
    assert heuristic_decision(frame, "skewed", "numeric", None, evidence, missing)["action"] == "median"
    assert heuristic_decision(frame, "symmetric", "numeric", None, evidence, missing)["action"] == "mean"


def test_correlated_columns_are_predicted_and_beat_the_mean():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 2000)
    truth = pd.DataFrame({"x": x, "z": rng.normal(0, 1, 2000), "y": 3 * x + rng.normal(0, 0.3, 2000)})
    holes = rng.random(2000) < 0.2
    frame = truth.copy()
    frame.loc[holes, "y"] = np.nan
    out, logs = fill(frame)
    log = next(e for e in logs if e["column"] == "y")
    assert log["action"] == "impute_regression" and log["params"]["predictors"] == ["x"]
    rmse = np.sqrt(((out.loc[holes, "y"] - truth.loc[holes, "y"]) ** 2).mean())
    mean_rmse = np.sqrt(((frame["y"].mean() - truth.loc[holes, "y"]) ** 2).mean())
    assert rmse < 0.2 * mean_rmse


def test_regular_series_is_interpolated_in_time_order_and_categories_are_not_carried_forward():
    frame = pd.DataFrame({"day": pd.date_range("2024-01-01", periods=6), "temp": [1.0, 2.0, None, 4.0, None, 6.0],
                          "state": ["on", None, "off", "off", None, "on"]})
    shuffled = frame.iloc[[3, 0, 5, 1, 4, 2]]
    for data in (frame, shuffled):
        out, logs = fill(data)
        assert out.sort_values("day")["temp"].tolist() == [1, 2, 3, 4, 5, 6]
        assert {e["column"]: e["action"] for e in logs} == {"temp": "impute_interpolate", "state": "leave_missing"}
        assert out["state"].isna().sum() == 2


def test_rows_merely_sorted_by_date_are_not_a_time_series():
    rng = np.random.default_rng(3)
    days = pd.to_datetime("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 400, 300)), unit="D")
    frame = pd.DataFrame({"ordered": days, "price": rng.lognormal(3, 1, 300).round(2)})
    frame.loc[rng.random(300) < 0.1, "price"] = np.nan
    out, logs = fill(frame)
    assert next(e for e in logs if e["column"] == "price")["action"] == "impute_median"


def test_integer_columns_stay_integer_and_fills_match_the_data_precision():
    out, logs = fill(pd.DataFrame({"n": [1.0, 2.0, None, 4.0], "r": [1.25, 2.5, None, 3.75]}))
    assert out["n"].dtype == "int64" and out["n"].tolist() == [1, 2, 2, 4]
    assert out["r"].tolist()[2] == 2.5 and logs[1]["params"]["value"] == 2.5


def test_categories_get_mode_only_when_it_is_nearly_always_right_and_indicators_optional():
    values = ["a"] * 190 + ["b"] * 5 + [None] * 5
    out, logs = fill(pd.DataFrame({"c": values}), indicators=True)
    assert out["c"].isna().sum() == 0 and out["c"].tolist()[-1] == "a"
    assert out["c_was_missing"].tolist()[-5:] == [1] * 5
    assert logs[0]["action"] == "impute_mode" and logs[0]["before"]["missing"] == 5
    even, logs = fill(pd.DataFrame({"c": ["a", "b"] * 95 + [None] * 10}))
    assert even["c"].isna().sum() == 10 and logs[0]["action"] == "leave_missing"
    assert "held-out accuracy" in logs[0]["params"]["reason"]


def test_independent_random_columns_never_group_each_other_and_shuffling_changes_nothing():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({f"c{i}": rng.choice(list("abc"), 2000) for i in range(5)})
    frame["n"] = rng.normal(size=2000)
    frame["m"] = rng.normal(size=2000)
    frame = frame.mask(rng.random(frame.shape) < 0.1)
    plans, _ = plan_missing(frame, roles(frame), "fast")
    assert all(p["action"] in ("leave_missing", "mean", "median") for p in plans.values())
    shuffled = frame.sample(frac=1.0, random_state=1)
    again, _ = plan_missing(shuffled, roles(shuffled), "fast")
    assert {c: p["action"] for c, p in plans.items()} == {c: p["action"] for c, p in again.items()}
    assert {c: p["reasoning"] for c, p in plans.items()} == {c: p["reasoning"] for c, p in again.items()}


def test_free_text_identifiers_and_codes_are_never_filled():
    rng = np.random.default_rng(2)
    n = 300
    frame = pd.DataFrame({"city": [f"Town {i}" for i in rng.integers(0, 250, n)],
                          "notes": [f"left at door {i}" for i in range(n)],
                          "zip": rng.integers(10000, 99999, n).astype(float), "amount": rng.normal(10, 1, n)})
    frame.loc[rng.random(n) < 0.1, ["city", "notes", "zip"]] = None
    result = run_pipeline(frame)
    for col in ("city", "notes", "zip"):
        assert result.frame[col].isna().sum() == frame[col].isna().sum(), col
    assert result.summary["roles"]["zip"] == "code"
    assert not result.imputed["column"].isin(["city", "notes", "zip"]).any()


def test_regression_fills_are_rounded_to_the_data_precision():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 500)
    frame = pd.DataFrame({"x": x.round(2), "y": (3 * x + rng.normal(0, 0.1, 500)).round(1)})
    frame.loc[rng.random(500) < 0.2, "y"] = np.nan
    out, logs = fill(frame)
    assert logs[0]["action"] == "impute_regression"
    assert (out["y"] == out["y"].round(1)).all()


def test_categories_predicted_from_a_related_column():
    rng = np.random.default_rng(4)
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], 600)
    island = np.where(species == "Gentoo", "Biscoe", np.where(species == "Chinstrap", "Dream", "Torgersen"))
    truth = pd.DataFrame({"species": species, "island": island, "noise": rng.normal(size=600)})
    frame = truth.copy()
    holes = rng.random(600) < 0.2
    frame.loc[holes, "island"] = None
    out, logs = fill(frame)
    log = next(e for e in logs if e["column"] == "island")
    assert log["action"] == "impute_group_mode" and log["params"]["by"] == "species"
    assert (out.loc[holes, "island"] == truth.loc[holes, "island"]).mean() == 1.0


NUMBERS, WORDS = pd.Series([1.0, None], name="a"), pd.Series(["x", None], name="a", dtype="str")


@pytest.mark.parametrize("raw,role,series,message", [
    ("mean", "numeric", NUMBERS, "not an object"), ({"action": "mean"}, "categorical", WORDS, "not allowed"),
    ({"action": "constant", "params": {"value": float("nan")}}, "numeric", NUMBERS, "finite"),
    ({"action": "constant", "params": {"value": "x" * 500}}, "categorical", WORDS, "at most 100"),
    ({"action": "constant", "params": {"value": 5}}, "categorical", WORDS, "must be a string"),
    ({"action": "constant", "params": {"value": 5}}, "id", NUMBERS, "not allowed"),  # ids are never filled
    ({"action": "regression", "params": {"predictors": ["nope"]}}, "numeric", NUMBERS, "predictors"),
    ({"action": "regression", "params": {"predictors": ["a"]}}, "numeric", NUMBERS, "predictors"),  # itself
    ({"action": "group_mode", "params": {"by": "a"}}, "categorical", WORDS, "another column"),
    ({"action": "drop_column"}, "numeric", NUMBERS, "target"),
])
def test_untrusted_decisions_are_validated(raw, role, series, message):
    with pytest.raises(DecisionError, match=message):
        validate_decision(raw, role, series, ["a", "b"], target="a")


def test_rows_without_a_target_are_dropped_not_imputed_and_the_target_is_not_clipped():
    frame = pd.DataFrame({"x": np.arange(40.0), "y": [float(i) for i in range(39)] + [1000.0]})
    frame.loc[3, "y"] = np.nan
    result = run_pipeline(frame, PipelineOptions(target="y"))
    assert len(result.frame) == 39 and result.frame["y"].max() == 1000.0
    assert any(e["action"] == "drop_rows_missing_target" for e in result.logs["cleaning"])


def test_mode_thresholds_pick_advisor_columns():
    frame = pd.DataFrame({"a": [None] * 5 + [1] * 5, "b": [None] * 3 + [1] * 7, "c": [None] * 2 + [1] * 8,
                          "d": [None] + [1] * 9, "e": [None] * 4 + [1] * 6})
    assert advisor_columns(frame, "smart") == ["a", "e", "b"]
    assert advisor_columns(frame, "deep") == ["a", "e", "b"]
    assert advisor_columns(frame, "fast") == []
    assert advisor_columns(frame.drop(columns=["a", "e"]), "deep") == ["b", "c"]


def test_pipeline_fills_or_reports_every_gap(messy):
    result = run_pipeline(messy)
    left = result.frame.isna().sum()
    reported = {e["column"]: e["count"] for e in result.logs["cleaning"] if e["action"] in ("leave_missing",
                                                                                         "drop_column")}
    assert {c: int(n) for c, n in left.items() if n} == reported
    # Columns keep their positions in the cleaned data; too sparse ones only leave the features.
    assert list(result.frame.columns) == list(messy.columns)
    assert "empty" in result.summary["columns_dropped"] and "empty" not in result.features.columns
    assert result.summary["missing_out"] == sum(reported.values()) and result.summary["columns_converted"] == 2
    assert len(result.imputed) == result.summary["cells_imputed"] > 0


def test_progress_is_reported(messy):
    seen = []
    run_pipeline(messy, progress=lambda stage, pct, info: seen.append((stage, pct)))
    assert [s for s, _ in seen][0] == "cleaning" and {"outliers", "features"} <= {s for s, _ in seen}
    assert [p for _, p in seen] == sorted(p for _, p in seen)


@pytest.mark.parametrize("kwargs,message", [
    ({"mode": "turbo"}, "mode must be"), ({"drop_threshold": 0}, "drop_threshold"),
    ({"parse_threshold": 1.5}, "parse_threshold"), ({"outlier_method": "vibes"}, "outlier_method"),
    ({"scaling": "log"}, "scaling"),
])
def test_options_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PipelineOptions(**kwargs)
