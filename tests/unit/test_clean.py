"""Cleaning: duplicates, sparse columns, fast-mode imputation choices."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.clean import drop_duplicates, drop_sparse_columns, fill_value, impute_missing
from jobs.pipeline.runner import PipelineOptions, run_pipeline


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
    skewed = pd.Series(np.append(rng.exponential(10, 500), np.nan))
    symmetric = pd.Series(np.append(rng.normal(0, 1, 500), np.nan))
    assert fill_value(skewed)[1] == "median"
    assert fill_value(symmetric)[1] == "mean"


def test_integer_columns_stay_integer():
    out, logs = impute_missing(pd.DataFrame({"n": [1.0, 2.0, None, 4.0]}))
    assert out["n"].dtype == "int64" and out["n"].tolist() == [1, 2, 2, 4]
    assert logs[0]["params"]["integer_valued"] is True


def test_categories_get_mode_and_indicators_optional():
    out, logs = impute_missing(pd.DataFrame({"c": ["a", "b", "a", None]}), indicators=True)
    assert out["c"].tolist() == ["a", "b", "a", "a"]
    assert out["c_was_missing"].tolist() == [0, 0, 0, 1]
    assert logs[0]["action"] == "impute_mode" and logs[0]["before"]["missing"] == 1


def test_pipeline_leaves_no_missing_cells(messy):
    result = run_pipeline(messy)
    assert result.frame.isna().sum().sum() == 0
    assert "empty" not in result.frame.columns
    assert result.summary["missing_out"] == 0 and result.summary["columns_converted"] == 2


def test_progress_is_reported(messy):
    seen = []
    run_pipeline(messy, progress=lambda stage, pct, info: seen.append((stage, pct)))
    assert seen and all(stage == "cleaning" for stage, _ in seen)
    assert [p for _, p in seen] == sorted(p for _, p in seen)


@pytest.mark.parametrize("kwargs,message", [
    ({"mode": "turbo"}, "mode must be"), ({"drop_threshold": 0}, "drop_threshold"),
    ({"parse_threshold": 1.5}, "parse_threshold"),
])
def test_options_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PipelineOptions(**kwargs)
