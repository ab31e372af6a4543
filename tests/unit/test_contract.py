"""One contract over every pipeline step: inputs untouched, edge-case frames survive."""
from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.clean import drop_duplicates, drop_sparse_columns
from jobs.pipeline.coerce import detect_roles, repair_types
from jobs.pipeline.depend import repair_dependencies
from jobs.pipeline.entries import LogEntry
from jobs.pipeline.features import engineer_features
from jobs.pipeline.gross import repair_gross_errors
from jobs.pipeline.impute import apply_decisions
from jobs.pipeline.outliers import handle_outliers
from jobs.pipeline.plan import plan_missing
from jobs.pipeline.profile import column_role
from jobs.pipeline.runner import PipelineOptions, run_pipeline
from jobs.pipeline.sentinels import find_disguised_missing


def _impute(frame: pd.DataFrame):
    plans, _ = plan_missing(frame, {c: column_role(frame[c], c) for c in frame.columns}, "deep")
    return apply_decisions(frame, plans)


def _roles(frame: pd.DataFrame) -> dict[str, str]:
    return detect_roles(frame)[0]


def _gross(frame: pd.DataFrame):
    return repair_gross_errors(frame, [c for c, r in _roles(frame).items() if r == "numeric"])


def _pipeline(frame: pd.DataFrame, mode: str):
    result = run_pipeline(frame, PipelineOptions(mode=mode))
    return result.frame, result.logs["cleaning"]


STEPS = {
    "repair_types": lambda f: repair_types(f),
    "drop_duplicates": lambda f: drop_duplicates(f),
    "drop_sparse_columns": lambda f: drop_sparse_columns(f, 0.7, set()),
    "disguised_missing": lambda f: find_disguised_missing(f, _roles(f)),
    "dependencies": lambda f: repair_dependencies(f, _roles(f))[:2],
    "gross_errors": _gross,
    "impute": _impute,
    **{f"outliers_{s}": partial(handle_outliers, strategy=s) for s in ("clip", "null", "remove", "median", "flag")},
    "outliers_mad": lambda f: handle_outliers(f, method="mad"),
    "outliers_zscore": lambda f: handle_outliers(f, method="zscore"),
    "features": lambda f: engineer_features(f)[:2],
    "features_minmax": lambda f: engineer_features(f, scaling="minmax")[:2],
    **{f"run_pipeline_{m}": partial(_pipeline, mode=m) for m in ("fast", "smart", "deep")},
}


def _dirty_entities() -> pd.DataFrame:
    """Every repair has something to do: a key's attribute overruled and filled, a typo, a slip, a sentinel."""
    rng = np.random.default_rng(2)
    keys = np.repeat([f"k{i}" for i in range(12)], 8)
    frame = pd.DataFrame({"key": keys, "city": [f"town {k[1:]}" for k in keys],
                          "kind": rng.choice(["acute care", "critical access"], len(keys)),
                          "size": rng.normal(50, 5, len(keys)).round(1), "weight": [f"{w} kg" for w in range(96)],
                          "count": rng.integers(1, 9, len(keys)).astype(float)})
    frame.loc[3, "city"], frame.loc[9, "city"] = "town 9", None
    frame.loc[5, "kind"], frame.loc[[7, 8], "count"] = "acute carx", -999.0
    frame.loc[11, "size"] = frame.loc[11, "size"] * 100
    return frame


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
        "dirty_entities": _dirty_entities(),
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
        assert set(entry) == set(LogEntry.__annotations__)  # one shape for every step's log
        assert entry["source"] in ("heuristic", "advisor") and isinstance(entry["count"], int)
        assert isinstance(entry["action"], str) and isinstance(entry["message"], str)
        assert isinstance(entry["params"], dict) and (entry["column"] is None or isinstance(entry["column"], str))
        assert all(entry[k] is None or isinstance(entry[k], dict) for k in ("before", "after"))
    assert len(out) <= len(frame)
