"""One contract over every pipeline step: inputs untouched, edge-case frames survive."""
from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.clean import drop_duplicates, drop_sparse_columns
from jobs.pipeline.coerce import repair_types
from jobs.pipeline.features import engineer_features
from jobs.pipeline.impute import apply_decisions
from jobs.pipeline.outliers import handle_outliers
from jobs.pipeline.plan import plan_missing
from jobs.pipeline.profile import column_role
from jobs.pipeline.runner import PipelineOptions, run_pipeline


def _impute(frame: pd.DataFrame):
    plans, _ = plan_missing(frame, {c: column_role(frame[c], c) for c in frame.columns}, "deep")
    return apply_decisions(frame, plans)


def _pipeline(frame: pd.DataFrame, mode: str):
    result = run_pipeline(frame, PipelineOptions(mode=mode))
    return result.frame, result.logs["cleaning"]


STEPS = {
    "repair_types": lambda f: repair_types(f),
    "drop_duplicates": lambda f: drop_duplicates(f),
    "drop_sparse_columns": lambda f: drop_sparse_columns(f, 0.7, set()),
    "impute": _impute,
    **{f"outliers_{s}": partial(handle_outliers, strategy=s) for s in ("clip", "null", "remove", "median", "flag")},
    "outliers_mad": lambda f: handle_outliers(f, method="mad"),
    "outliers_zscore": lambda f: handle_outliers(f, method="zscore"),
    "features": lambda f: engineer_features(f)[:2],
    "features_minmax": lambda f: engineer_features(f, scaling="minmax")[:2],
    **{f"run_pipeline_{m}": partial(_pipeline, mode=m) for m in ("fast", "smart", "deep")},
}


def frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(1)
    wide = pd.DataFrame(rng.normal(size=(20, 300)), columns=[f"c{i}" for i in range(300)])
    wide.iloc[::3, ::7] = np.nan
    return {
        "empty": pd.DataFrame(),
        "no_rows": pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="str")}),
        "one_row": pd.DataFrame({"a": ["$1"], "b": [None], "c": ["yes"], "d": [3.5]}),
        "all_missing_column": pd.DataFrame({"a": [None, None, None], "b": [1.0, None, 3.0]}),
        "wide": wide,
        "unicode_names": pd.DataFrame({"città": ["Roma", None, "Milano", "Roma"], "価格": ["¥1,000", "¥2", None, "¥5"],
                                       "🙂": [1.0, None, 2.0, 2.5]}),
        "mixed": pd.DataFrame({"when": pd.to_datetime(["2024-01-01", None, "2024-03-01", "2024-04-01"]),
                               "flag": pd.array([True, None, False, True], dtype="boolean"),
                               "n": [1, 2, 3, 400], "s": ["a", "b", None, "a"]}),
    }


@pytest.mark.parametrize("frame_name", list(frames()))
@pytest.mark.parametrize("step_name", list(STEPS))
def test_step_contract(step_name, frame_name):
    frame = frames()[frame_name]
    original = frame.copy(deep=True)
    out, logs = STEPS[step_name](frame)
    pd.testing.assert_frame_equal(frame, original)  # the input is never mutated
    assert isinstance(out, pd.DataFrame) and out is not frame
    assert isinstance(logs, list)
    for entry in logs:
        assert {"column", "action", "count", "params", "source", "before", "after", "message"} <= set(entry)
        assert entry["source"] in ("heuristic", "advisor") and isinstance(entry["count"], int)
    assert len(out) <= len(frame)
