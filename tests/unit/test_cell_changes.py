"""The changed-cell list: what counts as a change, rows followed through removals, the cap, the steps named."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from jobs.pipeline import diff


def test_a_value_written_another_way_is_no_change_but_a_repair_is():
    before = pd.Series(["3.50", "1,200", None, "7", "x"], dtype=object, name="n")
    after = pd.Series([3.5, 1200.0, 4.0, None, np.nan], name="n")
    assert diff.differs(before, after).tolist() == [False, True, True, True, True]
    dates = pd.Series(["5/1/24", "6/1/24"], name="d")
    parsed = pd.to_datetime(pd.Series(["2024-05-01", "2024-06-02"], name="d"))
    assert diff.differs(dates, parsed, {"d": "%-m/%-d/%y"}).tolist() == [False, True]
    assert not diff.differs(pd.Series([np.nan, 1.0]), pd.Series([np.nan, 1.0])).any()
    words = pd.Series(["True", "false", "yes", None], dtype=object, name="b")
    assert diff.differs(words, pd.Series([True, False, True, None], dtype="boolean", name="b")).tolist() == [
        False, False, True, False]
    big = pd.Series([2**53 + 1, None], dtype="Int64")
    assert diff.differs(big, pd.Series([2**53, None], dtype="Int64")).tolist() == [True, False]


def test_rows_are_followed_through_removals_and_later_steps_win():
    frame = pd.DataFrame({"x": [1.0, 1.0, np.nan, 4.0, 5.0]})
    trail = diff.Trail.start(frame)
    kept = trail.keep(frame.drop(index=[1]))  # a duplicate went
    filled = kept.fillna({"x": 9.0})
    trail.record("missing_values", kept, filled, [{"column": "x", "action": "impute_constant", "count": 1,
                                                   "message": "Filled."}])
    changes, total = diff.cell_changes(frame, filled, trail, [])
    assert total == 1 and changes.select(["row", "cleaned_row", "before", "after", "kind", "step", "rule"]).to_pylist() \
        == [{"row": 3, "cleaned_row": 2, "before": None, "after": "9", "kind": "filled", "step": "missing_values",
             "rule": "impute_constant"}]


def test_the_list_is_capped_and_says_how_many_there_were(monkeypatch):
    monkeypatch.setattr(diff, "MAX_CELLS", 5)
    frame = pd.DataFrame({"a": list("abcd"), "b": list("efgh")})
    changes, total = diff.cell_changes(frame, frame.apply(lambda c: c.str.upper()), diff.Trail.start(frame), [])
    assert total == 8 and len(changes) == 5 and changes.column("column").to_pylist() == ["a"] * 4 + ["b"]


def test_a_cell_of_several_type_repairs_names_the_one_that_explains_it():
    raw = pd.DataFrame({"city": ["Stavangr", "oslo ", "OSLO", "Oslo"]})
    cleaned = pd.DataFrame({"city": ["Stavanger", "oslo", "Oslo", "Oslo"]})
    logs = [{"column": "city", "action": "trim_whitespace", "message": "Trimmed.", "params": {}},
            {"column": "city", "action": "unify_category_variants", "message": "Unified.", "params": {}},
            {"column": "city", "action": "repair_typos", "message": "Typos.",
             "params": {"mapping": {"Stavangr": "Stavanger"}}}]
    changes, total = diff.cell_changes(raw, cleaned, diff.Trail.start(raw), logs)
    assert total == 3 and changes.column("rule").to_pylist() == [
        "repair_typos", "trim_whitespace", "unify_category_variants"]
    assert changes.column("why").to_pylist() == ["Typos.", "Trimmed.", "Unified."]


def test_a_frame_labelled_otherwise_is_followed_by_position():
    from jobs.pipeline.options import PipelineOptions
    from jobs.pipeline.runner import run_pipeline
    frame = pd.DataFrame({"x": [1.0, 1.0, np.nan, 4.0] * 5, "y": list("abcd") * 5}, index=range(1000, 1020))
    result = run_pipeline(frame, PipelineOptions(features=False))
    filled = result.changes.filter(pc.equal(result.changes.column("kind"), "filled")).to_pylist()
    assert [c["row"] for c in filled] == [3]  # the one gap left after the duplicates went: input row 3
