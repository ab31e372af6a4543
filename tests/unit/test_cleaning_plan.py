"""What a plan pins for the next batch: the outlier fences learned on its own batch."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from jobs.pipeline.cleaning_plan import build_plan
from jobs.pipeline.options import PipelineOptions
from jobs.pipeline.runner import run_pipeline

LOADED = {"params": {"format": "csv", "encoding": "utf-8", "delimiter": ",", "missing_tokens": [""]}}


def batch(spread: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(100, spread, 300).round(2), "y": rng.normal(5, 1, 300).round(2)})


def _clipped(result) -> dict:
    return {e["column"]: e for e in result.logs["outliers"] if e["action"] == "outliers_clip"}


def test_the_next_batch_is_judged_by_the_plans_fences_not_its_own_spread():
    options = PipelineOptions(outliers="clip", features=False)
    first = run_pipeline(batch(5, 1), options)
    plan = json.loads(json.dumps(build_plan(LOADED, options, first)))  # as stored and sent back
    fences = plan["outliers"]["fences"]
    assert plan["options"]["outliers"] == "clip" and set(fences) == {"x", "y"}
    assert fences["x"]["lower"] < 100 < fences["x"]["upper"] < 140

    wide = batch(9, 2)  # a wider spread: its own fences are far wider than the plan's
    wide.loc[7, "x"] = 135.0  # inside this batch's own fences, outside the plan's
    alone = run_pipeline(wide, options)
    assert alone.frame.loc[7, "x"] == 135.0 and "x" not in _clipped(alone)
    replayed = run_pipeline(wide, PipelineOptions(outliers="clip", features=False, plan=plan))
    assert replayed.frame.loc[7, "x"] == math.floor(fences["x"]["upper"] * 100) / 100  # its decimals, inside
    assert _clipped(replayed)["x"]["params"]["method"] == "plan"
    assert replayed.frame["x"].between(fences["x"]["lower"], fences["x"]["upper"]).all()
    # The replayed run keeps the plan's fences, so a plan made from it judges the batch after alike.
    again = build_plan(LOADED, PipelineOptions(outliers="clip", features=False, plan=plan), replayed)
    assert again["outliers"]["fences"] == fences


def test_a_plan_replayed_on_its_own_batch_changes_nothing():
    options = PipelineOptions(outliers="clip", features=False)
    frame = batch(5, 3)
    frame.loc[[4, 9], "x"] = [400.0, -300.0]
    first = run_pipeline(frame, options)
    plan = json.loads(json.dumps(build_plan(LOADED, options, first)))
    replayed = run_pipeline(frame, PipelineOptions(outliers="clip", features=False, plan=plan))
    assert replayed.frame.equals(first.frame) and set(_clipped(replayed)) == set(_clipped(first)) == {"x"}


def test_dates_of_the_next_batch_are_read_the_way_the_plan_read_them():
    """Week 1 shows day-first dates (28/02); week 2's are all ambiguous: the plan says how to read them."""
    options = PipelineOptions(features=False)
    week1 = pd.DataFrame({"when": [f"{d:02d}/02/2024" for d in range(1, 29)] * 3, "n": range(84)})
    plan = json.loads(json.dumps(build_plan(LOADED, options, run_pipeline(week1, options))))
    assert plan["columns"]["when"]["parse"]["datetime"]["dayfirst"] is True
    week2 = pd.DataFrame({"when": [f"{d:02d}/03/2024" for d in range(1, 13)] * 7, "n": range(84)})
    alone = run_pipeline(week2, options)
    assert alone.frame["when"].iloc[0] == pd.Timestamp("2024-01-03")  # month first, by its own evidence
    replayed = run_pipeline(week2, PipelineOptions(features=False, plan=plan))
    assert replayed.frame["when"].iloc[0] == pd.Timestamp("2024-03-01")
    assert replayed.formats["when"] == plan["columns"]["when"]["parse"]["datetime"]["format"] == "%d/%m/%Y"


def test_a_pinned_date_format_never_drops_the_times_of_the_batch():
    options = PipelineOptions(features=False)
    week1 = pd.DataFrame({"when": [f"2024-02-{d:02d}" for d in range(1, 29)] * 2, "n": range(56)})
    plan = json.loads(json.dumps(build_plan(LOADED, options, run_pipeline(week1, options))))
    assert plan["columns"]["when"]["parse"]["datetime"]["format"] == "%Y-%m-%d"
    week2 = pd.DataFrame({"when": [f"2024-03-{d:02d} 10:{d:02d}" for d in range(1, 29)] * 2, "n": range(56)})
    replayed = run_pipeline(week2, PipelineOptions(features=False, plan=plan))
    assert replayed.formats["when"] == "%Y-%m-%d %H:%M"  # its own: the plan's would lose the times


def test_an_assumed_day_month_order_is_reported_and_an_edited_plan_sets_it():
    options = PipelineOptions(features=False)
    week = pd.DataFrame({"when": [f"{d:02d}/03/2024" for d in range(1, 13)] * 5, "n": range(60)})
    first = run_pipeline(week, options)
    read = next(e for e in first.logs["cleaning"] if e["action"] == "convert_datetime")
    assert read["params"]["day_month_order"] == "assumed" and "parse.datetime.dayfirst" in read["message"]
    assert first.frame["when"].iloc[0] == pd.Timestamp("2024-01-03")
    plan = json.loads(json.dumps(build_plan(LOADED, options, first)))
    plan["columns"]["when"]["parse"]["datetime"]["dayfirst"] = True  # the user knows the feed is day-first
    replayed = run_pipeline(week, PipelineOptions(features=False, plan=plan))
    assert replayed.frame["when"].iloc[0] == pd.Timestamp("2024-03-01")
    assert replayed.formats["when"] == "%d/%m/%Y"  # written as the file writes them, not in the old order
    assert next(e for e in replayed.logs["cleaning"] if e["action"] == "convert_datetime")["params"][
        "day_month_order"] == "plan"


def test_a_regression_fill_is_replayed_with_the_plans_coefficients():
    def week(slope: float, seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        x = r.normal(50, 10, 400).round(1)
        frame = pd.DataFrame({"n": range(400), "x": x, "y": (slope * x + r.normal(0, 1, 400)).round(1),
                              "kind": r.choice(["a", "b"], 400)})
        frame.loc[r.random(400) < 0.1, "y"] = np.nan
        return frame
    options = PipelineOptions(features=False)
    first = run_pipeline(week(2.0, 1), options)
    plan = json.loads(json.dumps(build_plan(LOADED, options, first)))
    decision = plan["missing"]["y"]
    assert decision["action"] == "regression" and decision["model"]["fits"][0]["coefficients"]
    slope = dict(zip([t[0] for t in decision["model"]["fits"][0]["terms"]],
                     decision["model"]["fits"][0]["coefficients"][1:]))["x"]
    assert abs(slope - 2.0) < 0.05
    steeper = week(5.0, 2)  # the next batch's own fit would be 5 x: the plan's is 2 x
    gaps = steeper["y"].isna()
    replayed = run_pipeline(steeper, PipelineOptions(features=False, plan=plan))
    filled = replayed.frame.loc[gaps, "y"]
    assert len(filled) and (filled <= decision["model"]["range"][1]).all()
    assert np.allclose(filled, (decision["model"]["fits"][0]["coefficients"][0] + slope * steeper.loc[gaps, "x"])
                       .clip(*decision["model"]["range"]).round(1), atol=0.051)  # the plan's line, not refitted
    again = run_pipeline(week(2.0, 1), PipelineOptions(features=False, plan=plan))
    assert again.frame.equals(first.frame)  # its own batch: byte for byte


def test_the_plans_stand_ins_for_missing_values_are_applied_and_none_looked_for_afresh():
    options = PipelineOptions(features=False)
    rng = np.random.default_rng(4)
    first = pd.DataFrame({"x": rng.normal(50, 5, 200).round(3), "z": rng.normal(9, 1, 200).round(3)})
    first.loc[:9, "x"] = -999.0
    plan = json.loads(json.dumps(build_plan(LOADED, options, run_pipeline(first, options))))
    assert plan["stand_ins"] == {"x": [-999.0]}
    second = pd.DataFrame({"x": rng.normal(50, 5, 200).round(3), "z": rng.normal(9, 1, 200).round(3)})
    second.loc[3, "x"] = -999.0  # once: too little evidence on its own batch
    second.loc[:9, "z"] = -99.0  # a stand-in the plan never decided on
    def stand_ins(result) -> dict:
        return {e["column"]: (e["count"], e["source"]) for e in result.logs["cleaning"]
                if e["action"] == "disguised_missing"}

    alone = run_pipeline(second, options)
    assert stand_ins(alone) == {"z": (10, "heuristic")}
    replayed = run_pipeline(second, PipelineOptions(features=False, plan=plan))
    assert stand_ins(replayed) == {"x": (1, "plan")} and (replayed.frame.loc[:9, "z"] == -99.0).all()
    # Carried on: a batch without the stand-in does not lose it for the next, and an older plan looks afresh.
    third = second.assign(x=second["x"].abs())
    again = build_plan(LOADED, PipelineOptions(features=False, plan=plan), run_pipeline(third, PipelineOptions(
        features=False, plan=plan)))
    assert again["stand_ins"] == {"x": [-999.0]}
    older = {k: v for k, v in plan.items() if k not in ("stand_ins", "dependencies")}
    assert stand_ins(run_pipeline(second, PipelineOptions(features=False, plan=older))) == {"z": (10, "heuristic")}


def test_the_plans_dependency_rules_repair_the_next_batch_and_none_are_found_afresh():
    options = PipelineOptions(features=False)
    rng = np.random.default_rng(5)

    def stores(n: int) -> pd.DataFrame:
        store = rng.choice([f"S{i}" for i in range(12)], n)
        return pd.DataFrame({"store": store, "region": pd.Series(store).map(lambda s: f"region {int(s[1:]) % 4}"),
                             "units": rng.integers(1, 50, n)})

    first = stores(400)
    plan = json.loads(json.dumps(build_plan(LOADED, options, run_pipeline(first, options))))
    assert [(r["determinant"], r["dependent"]) for r in plan["dependencies"]] == [("store", "region")]
    second = stores(400)
    right = second.loc[:4, "region"].copy()
    second.loc[:4, "region"] = "Rome"  # five rows break store → region
    replayed = run_pipeline(second, PipelineOptions(features=False, plan=plan)).frame
    assert (replayed.loc[:4, "region"] == right).all()
    without = run_pipeline(second, PipelineOptions(features=False, plan={**plan, "dependencies": []})).frame
    assert (without.loc[:4, "region"] == "Rome").all()  # a plan that found no rule repairs by none
    # A measurement as the key is refused as discovery refuses it; a rule given twice is used once.
    measured = {**plan, "dependencies": [{**plan["dependencies"][0], "determinant": "units"}] * 2
                + plan["dependencies"] * 3}
    repaired = run_pipeline(second, PipelineOptions(features=False, plan=measured))
    assert (repaired.frame.loc[:4, "region"] == right).all()
    assert repaired.dependencies == plan["dependencies"]
