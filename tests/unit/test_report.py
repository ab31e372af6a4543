"""Deep report from hand-made log entries: what was changed, flagged and left alone, with examples."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from jobs.pipeline.entries import entry
from jobs.pipeline.decide import decision
from jobs.pipeline.report import MAX_EXAMPLES, MAX_ITEMS, merge_advisor_report, rule_based_report

NO_OP = "No further action needed"


def table() -> pd.DataFrame:
    return pd.DataFrame({"iata": ["AAA", "BBB", "CCC", "DDD"], "lon": [-90.0, -91.5, 101.4, -88.0],
                         "city": ["Austin", None, "Boston", None], "state": ["TX", None, "MA", "TX"]})


def summary(frame: pd.DataFrame, **extra) -> dict:
    return {"rows_in": len(frame), "columns_in": frame.shape[1], "rows_out": len(frame),
            "columns_out": frame.shape[1], "duplicates_removed": 0,
            "roles": {"iata": "code", "lon": "coordinate", "city": "text", "state": "categorical"}, **extra}


def report(frame: pd.DataFrame, cleaning=(), outliers=(), features=(), plans=None, asked=(), **extra) -> dict:
    logs = {"cleaning": list(cleaning), "outliers": list(outliers), "features": list(features)}
    result = rule_based_report(frame, plans or {}, list(asked), summary(frame, **extra), logs)
    json.dumps(result, allow_nan=False)  # the API stores it as JSON
    return result


def clipped() -> dict:
    params = {"method": "iqr", "threshold": 3.0, "scale": "linear", "lower": -100.0, "upper": -80.0,
              "flagged": 1, "flagged_share": 0.25, "examples": [101.4]}
    return entry("outliers_clip", column="lon", count=1, params=params, before={"dtype": "float64"},
                 message="Clipped 1 values outside [-100, -80] (IQR, k=3, linear scale).")


def flagged(column: str = "lon", examples=(101.4,), action: str = "outliers_flag") -> dict:
    params = {"method": "iqr", "threshold": 3.0, "lower": -100.0, "upper": -80.0, "flagged": len(examples),
              "examples": list(examples)}
    return entry(action, column=column, count=len(examples) if action == "outliers_flag" else 0, params=params,
                 message=f"Marked {len(examples)} values outside [-100, -80].")


def left_missing(column: str = "city", count: int = 2) -> dict:
    return entry("leave_missing", column=column, count=count,
                 params={"reason": "no other column predicts a city with evidence"},
                 message=f"{count} gaps left missing.")


def test_a_clipped_column_is_listed_as_changed_with_before_and_after():
    result = report(table(), outliers=[clipped()])
    [item] = result["changed"]
    assert (item["column"], item["action"], item["count"]) == ("lon", "outliers_clip", 1)
    assert item["examples"] == ["101.4 → -80"] and "Clipped" in item["why"]
    assert "1 cell changed" in result["summary"] and NO_OP not in " ".join(result["recommendations"])
    assert any("lon" in r and "101.4 → -80" in r and "outliers=flag" in r for r in result["recommendations"])
    assert result["flagged"] == [] and result["left_alone"] == []


def test_integer_clips_are_rounded_inward_as_the_step_does():
    entry_ = clipped()
    entry_["params"].update(lower=0.5, upper=9.5, examples=[40, -3])
    entry_["before"] = {"dtype": "int64"}
    [item] = report(table(), outliers=[entry_])["changed"]
    assert item["examples"] == ["40 → 9", "-3 → 1"]


def test_flagged_values_are_listed_as_flagged_and_counted_as_unchanged():
    heavy = flagged("rain", examples=(55.9, 40.1, 38.0, 30.2), action="outliers_reported")
    result = report(table(), outliers=[flagged(), heavy])
    by_column = {i["column"]: i for i in result["flagged"]}
    assert by_column["lon"]["examples"] == ["101.4"] and by_column["lon"]["count"] == 1
    assert by_column["rain"]["count"] == 4 and len(by_column["rain"]["examples"]) == MAX_EXAMPLES
    assert result["changed"] == []
    assert "0 cells changed, 5 values flagged and left unchanged" in result["summary"]
    recs = " ".join(result["recommendations"])
    assert "Review the values flagged in lon" in recs and "101.4" in recs and "rain" in recs
    assert NO_OP not in recs


def test_leave_missing_is_left_alone_with_its_reason():
    result = report(table(), cleaning=[left_missing()])
    [item] = result["left_alone"]
    assert (item["column"], item["action"], item["count"]) == ("city", "leave_missing", 2)
    assert item["why"] == "No other column predicts a city with evidence."
    assert item["examples"] == ["iata='BBB': missing", "iata='DDD': missing"]  # rows named by the code column
    assert "2 gaps left missing" in result["summary"]
    assert any(r.startswith("city: 2 gaps left missing") and "predicts a city" in r
               for r in result["recommendations"])


def test_near_misses_and_role_decisions_are_left_alone():
    near = entry("keep_text", column="score", count=6,
                 params={"would_be": "numeric", "share_parsed": 0.94, "unparseable_examples": ["n.v."]},
                 message="94% parse as numbers, below the 95% threshold: kept as text.")
    code = entry("detect_code", column="iata", params={"role": "code", "evidence": "fixed-width letters"},
                 message="A code, not a quantity (fixed-width letters): kept exactly.")
    result = report(table(), cleaning=[near, code])
    by_action = {i["action"]: i for i in result["left_alone"]}
    assert by_action["keep_text"]["examples"] == ["'n.v.'"] and "below the 95% threshold" in \
        by_action["keep_text"]["why"]
    assert by_action["detect_code"]["examples"] == ["'AAA'", "'BBB'", "'CCC'"]
    recs = " ".join(result["recommendations"])
    assert "score: 94% parse as numbers" in recs and "iata treated as identifiers or codes" in recs
    assert NO_OP not in recs


def test_imputations_merges_conversions_and_removals_are_changes():
    cleaning = [
        entry("convert_numeric", column="pop", count=100, params={"share_parsed": 0.96, "unparseable_to_missing": 4}),
        entry("convert_numeric", column="elev", count=100, params={"share_parsed": 1.0, "unparseable_to_missing": 0}),
        entry("unify_category_variants", column="state", count=3, params={"examples": {"tx": "TX"}}),
        entry("drop_duplicate_rows", count=7, message="Removed 7 exact duplicate rows."),
        entry("drop_column", column="fax", count=4, params={"missing_share": 1.0}, message="All missing: dropped."),
        entry("impute_mode", column="state", count=1, params={"value": "TX", "reasoning": "the most frequent"}),
        entry("impute_regression", column="lon", count=0, params={"predictors": ["lat"]}),
        entry("trim_whitespace", column="city", count=2),  # representation only
        entry("eda_summary", count=3),
    ]
    result = report(table(), cleaning=cleaning, duplicates_removed=7)
    changed = {(i["column"], i["action"]): i for i in result["changed"]}
    assert set(changed) == {("pop", "convert_numeric"), ("state", "unify_category_variants"),
                            (None, "drop_duplicate_rows"), ("fax", "drop_column"), ("state", "impute_mode"),
                            ("lon", "impute_regression")}
    assert changed[("pop", "convert_numeric")]["count"] == 4
    assert changed[("state", "unify_category_variants")]["examples"] == ["'tx' → 'TX'"]
    assert changed[("state", "impute_mode")]["examples"] == ["iata='BBB': missing → 'TX'"]
    assert "8 cells changed" in result["summary"] and "7 rows removed" in result["summary"] \
        and "1 column removed" in result["summary"]
    recs = " ".join(result["recommendations"])
    assert "missing_indicators=true" in recs and "na_values" in recs and "fax" in recs and "duplicate" in recs


def test_no_further_action_only_for_a_no_op_run():
    notes = [entry("trim_whitespace", column="city", count=2), entry("eda_summary", count=3),
             entry("convert_numeric", column="lon", count=4, params={"unparseable_to_missing": 0})]
    features = [entry("one_hot", column="state", count=2), entry("drop_id_like", column="iata")]
    result = report(table(), cleaning=notes, features=features)
    assert result["recommendations"] == [
        "No further action needed: nothing was changed, flagged or left alone."]
    assert (result["changed"], result["flagged"], result["left_alone"]) == ([], [], [])
    assert "0 cells changed, 0 values flagged and left unchanged, 0 gaps left missing" in result["summary"]
    for logs in ({"outliers": [clipped()]}, {"outliers": [flagged()]}, {"cleaning": [left_missing()]}):
        other = report(table(), **logs)
        assert not any(r.startswith(NO_OP) for r in other["recommendations"]) and other["recommendations"]


def test_unknown_and_malformed_entries_do_not_crash():
    odd = [entry("something_new", column="x", count=5), {"action": None}, "not an entry",
           {"action": "leave_unclear", "column": 3, "count": "many", "params": None, "message": None},
           entry("outliers_skipped", column="lon", params={"reason": "zero-inflated"})]
    result = report(table(), cleaning=odd, outliers=[])
    [item] = result["left_alone"]
    assert (item["column"], item["count"], item["why"]) == ("3", 0, "Leave unclear.")
    assert result["changed"] == [] and result["flagged"] == []


def test_lists_and_examples_are_capped_on_wide_tables():
    wide = pd.DataFrame({f"c{i}": np.arange(10.0) for i in range(200)})
    logs = [flagged(f"c{i}", examples=tuple(range(20))) for i in range(200)]
    result = report(wide, outliers=logs)
    assert len(result["flagged"]) == MAX_ITEMS
    assert all(len(i["examples"]) <= MAX_EXAMPLES for i in result["flagged"])
    assert "4,000 values flagged" in result["summary"]  # the totals count every entry, not only those listed
    assert len(json.dumps(result)) < 20_000
    assert "and 195 more" in result["recommendations"][0]


def test_reasoning_covers_the_asked_columns():
    frame = table()
    plans = {"state": decision("mode", "the most frequent value")}
    result = report(frame, plans=plans, asked=["state", "unplanned"])
    [item] = result["reasoning"]
    assert item["column"] == "state" and item["missing_share"] == 0.25 and "missing" in item["explanation"]
    assert item["examples"] == [{"state": None}]


def test_the_advisor_writes_the_prose_and_our_facts_stay():
    base = report(table(), cleaning=[left_missing()], outliers=[clipped(), flagged("lat")],
                  plans={"state": decision("mode", "the most frequent value")}, asked=["state"])
    advised = {"summary": "The state column has gaps.", "recommendations": ["Fix the export."],
               "reasoning": [{"column": "state", "explanation": "TX dominates."}]}
    merged = merge_advisor_report(base, advised)
    assert merged["source"] == "advisor" and merged["summary"].startswith("The state column has gaps. ")
    assert merged["recommendations"] == ["Fix the export."]
    assert merged["reasoning"][0]["explanation"] == "TX dominates."
    assert all(merged[k] == base[k] and merged[k] for k in ("changed", "flagged", "left_alone"))
    assert merge_advisor_report(base, {**advised, "recommendations": []})["recommendations"] == \
        base["recommendations"]
    assert merge_advisor_report(base, "not a report") is base


def test_the_advisors_summary_gets_our_counts_of_what_happened_after_it_wrote():
    """The advisor wrote before imputation and outliers ran: the counts come from the run."""
    wide = pd.DataFrame({f"c{i}": np.arange(10.0) for i in range(60)})
    logs = [flagged(f"c{i}", examples=(1.0, 2.0)) for i in range(60)]
    base = report(wide, cleaning=[left_missing("c0", 3)], outliers=[clipped(), *logs])
    merged = merge_advisor_report(base, {"summary": "  nothing looks wrong; no further action needed",
                                         "recommendations": ["Fine."]})
    assert merged["summary"] == ("Nothing looks wrong; no further action needed. After cleaning: 1 cell changed, "
                                 "120 values flagged and left unchanged, 3 gaps left missing.")
    assert len(merged["flagged"]) == MAX_ITEMS  # the lists are capped; the counts cover every entry
    empty = merge_advisor_report(report(table()), {"summary": "", "recommendations": []})
    assert empty["summary"] == "After cleaning: 0 cells changed, 0 values flagged and left unchanged, 0 gaps left missing."
    rows = report(table(), cleaning=[entry("drop_duplicate_rows", count=7), entry("drop_column", column="fax", count=4)])
    assert merge_advisor_report(rows, {"summary": "Dupes.", "recommendations": []})["summary"].endswith(
        "0 gaps left missing; 7 rows removed; 1 column removed.")
