"""One contract over every pipeline step: inputs untouched, edge-case frames survive."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.clean import drop_duplicates, drop_sparse_columns, impute_missing
from jobs.pipeline.coerce import repair_types
from jobs.pipeline.runner import run_pipeline

STEPS = {
    "repair_types": lambda f: repair_types(f),
    "drop_duplicates": lambda f: drop_duplicates(f),
    "drop_sparse_columns": lambda f: drop_sparse_columns(f, 0.7, set()),
    "impute_missing": lambda f: impute_missing(f),
    "run_pipeline": lambda f: (lambda r: (r.frame, r.logs["cleaning"]))(run_pipeline(f)),
}


def frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(1)
    wide = pd.DataFrame(rng.normal(size=(20, 300)), columns=[f"c{i}" for i in range(300)])
    wide.iloc[::3, ::7] = np.nan
    return {
        "empty": pd.DataFrame(),
        "no_rows": pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="str")}),
        "one_row": pd.DataFrame({"a": ["$1"], "b": [None], "c": ["yes"]}),
        "all_missing_column": pd.DataFrame({"a": [None, None, None], "b": [1.0, None, 3.0]}),
        "wide": wide,
        "unicode_names": pd.DataFrame({"città": ["Roma", None, "Milano"], "価格": ["¥1,000", "¥2", None],
                                       "🙂": [1.0, None, 2.0]}),
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
        assert entry["source"] in ("heuristic", "advisor")
    assert len(out) <= len(frame)
