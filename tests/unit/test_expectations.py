"""Learned expectations and their checks, and the feature table rebuilt from its descriptions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jobs.pipeline.expectations import check, learn, plausible_range
from jobs.pipeline.feature_replay import replay_features
from jobs.pipeline.features import engineer_features


@pytest.fixture()
def week() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = 200
    return pd.DataFrame({"id": [f"k{i}" for i in range(n)], "x": rng.normal(50, 5, n),
                         "count": rng.integers(1, 9, n), "city": rng.choice(["Oslo", "Rome"], n),
                         "zip": rng.choice(["0150", "0151"], n)}).assign(
        region=lambda f: f.zip.map({"0150": "East", "0151": "West"}))


ROLES = {"id": "id", "x": "numeric", "count": "numeric", "city": "categorical", "zip": "code", "region": "categorical"}
RULES = [{"determinant": "zip", "dependent": "region"}]


def rules(found: list[dict]) -> dict[tuple[str, str | None], dict]:
    return {(v["rule"], v["column"]): v for v in found}


def test_a_batch_meets_what_it_taught(week):
    learned = learn(week, week, ROLES, RULES)
    assert check(week, week, learned) == []
    columns = learned["columns"]
    assert columns["city"]["allowed"] == ["Oslo", "Rome"] and columns["zip"]["allowed"] == ["0150", "0151"]
    assert columns["id"]["unique"] is True and "range" not in columns["zip"]  # a code has no range
    assert columns["count"]["range"][0] >= 0 and all(isinstance(b, int) for b in columns["count"]["range"])
    assert learned["dependencies"] == [{"determinant": "zip", "dependent": "region", "max_broken": 0.01}]


def test_each_kind_of_drift_is_reported_with_its_rows(week):
    learned = learn(week, week, ROLES, RULES)
    nxt = week.drop(columns=["count"]).assign(extra=1)
    nxt.loc[3, "city"] = "Paris"
    nxt.loc[5, "x"] = 5_000.0
    nxt.loc[7, "id"] = nxt.loc[6, "id"]
    nxt.loc[nxt.index[:10], "region"] = "North"  # 5% of rows break zip → region
    raw = nxt.copy()
    raw.loc[raw.index[:60], "city"] = None  # 30% missing where the plan saw none
    found = rules(check(raw, nxt, learned))
    assert set(found) == {("column_present", "count"), ("known_column", "extra"), ("allowed_values", "city"),
                          ("range", "x"), ("unique", "id"), ("dependency", "region"), ("max_missing", "city"),
                          ("allowed_values", "region")}  # "North" is new too
    assert found[("allowed_values", "city")]["rows"] == [4] and found[("allowed_values", "city")]["ids"] == ["k3"]
    assert found[("range", "x")]["rows"] == [6] and found[("unique", "id")]["rows"] == [7, 8]
    assert found[("dependency", "region")]["count"] == 10 and found[("max_missing", "city")]["table"] == "raw"


def test_a_type_change_is_one_violation_not_a_cascade(week):
    learned = learn(week, week, ROLES, RULES)
    found = rules(check(week, week.assign(x=week.x.astype(str) + " kg"), learned))
    assert list(found) == [("type", "x")] and found[("type", "x")]["found"] == "text"


def test_the_plausible_range_widens_the_batch_and_keeps_its_sign():
    assert plausible_range(pd.Series([1.5, 2.5, 3.5, 4.5])) == [0.0, 8.25]  # no negative value: none allowed
    assert plausible_range(pd.Series([-1.5, 0.5, 1.5, 2.5])) == [-5.25, 7.0]
    assert plausible_range(pd.Series([3, 4, 5, 6])) == [0, 10]  # whole numbers, rounded outwards


def test_features_rebuilt_from_their_descriptions_are_the_same_table():
    rng = np.random.default_rng(1)
    n = 120
    frame = pd.DataFrame({
        "price": rng.lognormal(3, 1, n), "lat": rng.uniform(-40, 40, n), "colour": rng.choice(["red", "blue", None], n),
        "many": rng.choice([f"v{i}" for i in range(30)], n), "ok": rng.choice([True, False], n),
        "sex": rng.choice(["M", "F"], n), "when": pd.date_range("2024-01-01", periods=n, freq="7h"),
        "at": rng.choice(["08:30", "17:45", None], n), "note": rng.choice(["short", "a longer note"], n),
        "zip": rng.choice([8540.0, 1010.0, np.nan], n)})
    roles = {"price": "numeric", "lat": "coordinate", "colour": "categorical", "many": "categorical",
             "ok": "boolean", "sex": "boolean", "when": "datetime", "at": "time", "note": "text", "zip": "code"}
    for scaling in ("standard", "minmax", "none"):
        built, _, described = engineer_features(frame, roles=roles, scaling=scaling)
        again, logs, _ = replay_features(frame, described, None)
        pd.testing.assert_frame_equal(again, built, check_dtype=False)
        assert logs[0]["action"] == "apply_feature_plan"
    unseen, logs, _ = replay_features(frame.assign(colour="green").drop(columns=["lat"]), described, None)
    assert {e["action"] for e in logs} >= {"unseen_levels", "feature_input_missing"}
    assert unseen.filter(like="colour=").sum().sum() == 0 and unseen["lat"].isna().all()


def test_infinities_have_no_plausible_range():
    frame = pd.DataFrame({"x": [1.0, np.inf, 3.0, -np.inf, 2.0]})
    learned = learn(frame, frame, {"x": "numeric"}, [])
    assert learned["columns"]["x"]["range"] == [0, 6] and check(frame, frame, learned) == []
