"""Cleaning plans through the API and a real worker: the plan, replaying it, validating the next batch."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from tests.fakes.gemini import text_reply
from tests.conftest import upload
from tests.integration.conftest import bearer, cleaned, csv, get, make_token, upload_feed
from tests.standalone import run_plan_script


def batch(n: int = 150, seed: int = 2) -> pd.DataFrame:
    """One week of a feed: orders with a price that tracks x, cities with spelling variants, gaps."""
    rng = np.random.default_rng(seed)
    x = rng.normal(100, 15, n).round(1)
    frame = pd.DataFrame({"order_id": [f"A{seed}-{i:05d}" for i in range(n)], "x": x,
                          "price": [f"${v:,.2f}" for v in 3 * x + 7],
                          "city": rng.choice(["Oslo", "oslo ", "Rome", "Bergen"], n),
                          "sold": rng.choice(["yes", "no"], n),
                          "when": pd.date_range(f"2024-0{seed}-01", periods=n, freq="h").strftime("%d/%m/%Y %H:%M")})
    frame = frame.astype(object)
    frame.loc[rng.random(n) < 0.3, "price"] = "?"
    frame.loc[rng.random(n) < 0.1, "x"] = None
    return frame


def test_a_plan_replays_its_own_batch_byte_for_byte_without_asking_the_advisor(client, run_worker, gemini):
    gemini.reply = text_reply(json.dumps({"columns": [
        {"column": "price", "action": "regression", "params": {"predictors": ["x"]}, "reasoning": "tracks x",
         "confidence": 0.9}]}))
    raw = csv(batch())
    first, status = cleaned(client, run_worker, raw, mode="smart")
    assert status["status"] == "completed" and status["advisor"]["used"] is True
    plan = get(client, f"/dataset/{first}/plan").json
    assert plan["plan_version"] == 1 and plan["origin"] == {"dataset_id": first, "run": 1}
    assert plan["missing"]["price"]["action"] == "regression" and plan["missing"]["price"]["source"] == "advisor"
    assert plan["columns"]["order_id"]["role"] == "id" and plan["columns"]["when"]["parse"]["datetime"]["format"]
    assert plan["expectations"]["columns"]["order_id"]["unique"] is True
    assert set(plan["expectations"]["columns"]["city"]["allowed"]) == {"Oslo", "Rome", "Bergen"}
    logged = get(client, f"/dataset/{first}/logs/cleaning").json["entries"]
    assert {(d["action"], d["column"]) for d in plan["decisions"] if d["step"] == "cleaning"} \
        == {(e["action"], e["column"]) for e in logged if e["action"] != "load"}  # one source for both
    asked = len(gemini.requests)

    again, status = cleaned(client, run_worker, raw, mode="smart", plan_from=first)
    assert status["status"] == "completed", status
    assert len(gemini.requests) == asked  # applied, not decided again
    assert status["options"]["plan"] == {"dataset_id": first, "run": 1}
    assert status["summary"]["validation"]["passed"] is True
    for path in ("cleaned?formulas=keep", "features.csv?formulas=keep", "imputed?formulas=keep"):
        assert get(client, f"/dataset/{again}/{path}").data == get(client, f"/dataset/{first}/{path}").data
    report = get(client, f"/dataset/{again}/validation").json
    assert report["passed"] is True and report["violations"] == [] and report["plan"]["dataset_id"] == first

    sent, status = cleaned(client, run_worker, raw, plan=json.dumps(plan))  # the document itself, as JSON text
    assert status["status"] == "completed" and len(gemini.requests) == asked
    assert get(client, f"/dataset/{sent}/cleaned?formulas=keep").data == get(client, f"/dataset/{first}/cleaned?formulas=keep").data


def violations(client, dataset_id: str) -> dict[tuple[str, str], dict]:
    return {(v["rule"], v["column"]): v for v in get(client, f"/dataset/{dataset_id}/validation").json["violations"]}


def test_the_next_batch_is_cleaned_the_same_way_and_its_drift_reported_with_rows(client, run_worker):
    first, _ = cleaned(client, run_worker, csv(batch()))
    plan = get(client, f"/dataset/{first}/plan").json
    fills = {c: d["params"].get("value") for c, d in plan["missing"].items()}

    week2 = batch(seed=3)
    second, status = cleaned(client, run_worker, csv(week2), plan_from=first)
    assert status["status"] == "completed"
    logged = {e["column"]: e for e in get(client, f"/dataset/{second}/logs/cleaning").json["entries"]
              if e["action"].startswith("impute_")}
    for column, value in fills.items():  # the values learned from week 1, not week 2's own
        if value is not None:
            assert logged[column]["params"]["value"] == value and logged[column]["source"] == "plan"
    # The same feature columns, encoded and scaled with week 1's parameters: a model trained on week 1 reads it.
    described = [get(client, f"/dataset/{d}/features").json["input_features"] for d in (first, second)]
    assert described[0] == described[1]
    week2_features = pd.read_csv(io.BytesIO(get(client, f"/dataset/{second}/features.csv").data))
    assert list(week2_features.columns) == [d["name"] for d in described[0]]
    scaled = next(d for d in described[0] if d["source"] == ["x"])
    week2_x = pd.read_csv(io.BytesIO(get(client, f"/dataset/{second}/cleaned").data))["x"]
    expected = (week2_x - scaled["params"]["mean"]) / scaled["params"]["std"]
    assert np.allclose(week2_features[scaled["name"]], expected)

    drifted = week2.drop(columns=["sold"]).assign(coupon="none")
    drifted.loc[[4, 9], "city"] = "Paris"  # a category the plan never saw
    drifted.loc[7, "x"] = -250.0  # far outside the learned range (and no decimal slip to repair)
    drifted.loc[drifted.index[:100], "price"] = "?"  # most prices missing
    drifted.loc[12, "order_id"] = drifted.loc[11, "order_id"]  # an identifier repeated
    third, status = cleaned(client, run_worker, csv(drifted), plan_from=first)
    assert status["status"] == "completed" and status["summary"]["validation"]["passed"] is False
    found = violations(client, third)
    assert {"column_present", "known_column", "allowed_values", "range", "max_missing", "unique"} \
        <= {rule for rule, _ in found}
    assert found[("column_present", "sold")] and found[("known_column", "coupon")]
    city = found[("allowed_values", "city")]
    assert (city["count"], city["values"], city["ids"]) == (2, ["Paris"], [drifted.order_id[4], drifted.order_id[9]])
    assert found[("range", "x")]["ids"] == [drifted.order_id[7]]
    gaps = found[("max_missing", "price")]
    assert gaps["table"] == "raw" and gaps["count"] >= 100 and gaps["rows"][:3] == [1, 2, 3]
    assert found[("unique", "order_id")]["rows"] == [12, 13]

    strict = upload_feed(client, csv(drifted), plan_from=first, strict="true")
    assert strict.status_code == 202
    run_worker()
    status = get(client, f"/dataset/{strict.json['dataset_id']}/status").json
    assert status["status"] == "failed" and "breaks the plan" in status["error"] and "sold" in status["error"]
    assert status["attempts"] == 1  # a broken expectation is final: retrying cannot help

    page = get(client, f"/dataset/{third}/view").get_data(as_text=True)
    assert 'id="validation"' in page and f"of dataset {first}" in page and "Paris" in page
    assert drifted.order_id[4] in page  # the offending rows' ids, as the report gives them
    assert 'id="plan-link"' in page and 'id="validation-passed"' not in page
    preview = page[page.index('id="preview"'):page.index('id="plots"')]
    paris = preview.split("<tr>")[1 + 5]  # the 5th data row (0-based 4): its city is outlined with the reason
    assert 'cell-violation" title="Breaks the plan: 2 values of &#39;city&#39;' in paris and ">Paris</td>" in paris
    assert 'id="validation-passed"' in get(client, f"/dataset/{second}/view").get_data(as_text=True) or \
        violations(client, second)


@pytest.mark.parametrize(("plan", "status", "code"), [
    ("{not json", 400, "invalid_plan"),
    (json.dumps({"plan_version": 1, "surprise": True}), 422, "invalid_plan"),
    (json.dumps({"plan_version": 2}), 422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "missing": {"x": {"action": "exec", "params": {}}}}), 422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "options": {"outliers": "explode"}}), 422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "columns": {"x": {"role": "number"}}}), 422, "invalid_plan"),
    ('{"plan_version": 1, "decisions": [' + ",".join(['{"a": "' + "x" * 1000 + '"}'] * 2200) + "]}", 413,
     "too_large"),
    # What reaches numpy or pandas is checked too: scaler numbers, date parts, ranges, dependencies, mappings.
    (json.dumps({"plan_version": 1, "features": [{"name": "x", "source": ["x"], "transform": "standard_scale",
                                                  "params": {"mean": "1", "std": 2}}]}), 422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "features": [{"name": "d", "source": ["when"], "transform": "date_part",
                                                  "params": {"part": "tz_convert"}}]}), 422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "expectations": {"columns": {"x": {"range": [5, 1]}}}}), 422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "expectations": {"columns": {"x": {"range": ["a", "b"]}}}}), 422,
     "invalid_plan"),
    (json.dumps({"plan_version": 1, "expectations": {"dependencies": [{"determinant": "x", "dependent": "x"}]}}),
     422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "columns": {"city": {"categories": {"typos": {"Oslo": "=HYPERLINK(1)"}}}}}),
     422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "columns": {"when": {"parse": {"datetime": {"format": "no directives"}}}}}),
     422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "columns": {"when": {"parse": {"datetime": {"dayfirst": "yes"}}}}}),
     422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "outliers": {"fences": {"x": {"lower": 5, "upper": 1}}}}), 422, "invalid_plan"),
    (json.dumps({"plan_version": 1, "missing": {"price": {"action": "regression", "params": {"predictors": ["x"]},
                 "model": {"fits": [{"predictors": ["x"], "terms": [["x", None]], "coefficients": [1.0]}],
                           "range": [0, 1], "decimals": 1, "fallback": 0.5}}}}), 422, "invalid_plan"),
])
def test_an_untrusted_plan_is_refused_before_anything_is_stored(client, app, plan, status, code):
    response = upload_feed(client, csv(batch()), plan=plan)
    assert (response.status_code, response.json["error"]["code"]) == (status, code), response.json
    assert get(client, "/datasets").json["count"] == 0


def test_plan_routes_answer_for_what_is_not_there(client, run_worker):
    waiting = upload_feed(client, csv(batch())).json["dataset_id"]
    assert get(client, f"/dataset/{waiting}/plan").status_code == 409
    assert upload_feed(client, csv(batch()), plan_from=waiting).status_code == 409  # no plan yet
    assert upload_feed(client, csv(batch()), plan_from="0" * 32).status_code == 404
    assert upload_feed(client, csv(batch()), strict="true").json["error"]["code"] == "invalid_parameter"
    run_worker()
    assert get(client, f"/dataset/{waiting}/validation").status_code == 404  # cleaned without a plan


def test_a_decision_from_a_plan_is_validated_like_an_advisors(client, run_worker):
    first, _ = cleaned(client, run_worker, csv(batch()))
    plan = get(client, f"/dataset/{first}/plan").json
    plan["missing"]["price"] = {"action": "constant", "params": {"value": "=cmd|' /C calc'!A0"}}  # not a number
    plan["missing"]["x"] = {"action": "mean", "params": {"value": 1e300}}  # no real value
    dataset_id, status = cleaned(client, run_worker, csv(batch()), plan=json.dumps(plan))
    assert status["status"] == "completed"
    report = get(client, f"/dataset/{dataset_id}/validation").json
    assert {s["column"] for s in report["skipped"]} == {"price", "x"} and report["passed"] is False
    table = pd.read_csv(io.BytesIO(get(client, f"/dataset/{dataset_id}/cleaned?formulas=keep").data))
    assert table["price"].isna().any() and table["x"].isna().any()  # left missing, nothing injected


def test_saved_plans_are_versioned_listed_and_applied_by_name(client, run_worker):
    first, _ = cleaned(client, run_worker, csv(batch()))
    saved = client.post("/plans", data={"name": "weekly-orders", "dataset_id": first, "user_id": "feed"})
    assert saved.status_code == 201 and (saved.json["version"], saved.json["source_dataset_id"]) == (1, first)
    plan = get(client, "/plans/weekly-orders/versions/1").json
    plan["expectations"]["columns"]["x"]["range"] = [0, 130]  # tightened by a person
    edited = client.post("/plans", json={"name": "weekly-orders", "plan": plan, "user_id": "feed"})
    assert edited.status_code == 201 and edited.json["version"] == 2
    listed = get(client, "/plans").json["plans"]
    assert [(p["name"], p["version"], p["versions"]) for p in listed] == [("weekly-orders", 2, 2)]
    assert client.get("/plans?user_id=someone-else").json["plans"] == []
    assert client.get("/plans").json["error"]["code"] == "missing_parameter"  # open mode: plans are per owner
    assert get(client, "/plans/weekly-orders/versions/3").status_code == 404

    newest, status = cleaned(client, run_worker, csv(batch(seed=3)), plan_name="weekly-orders")
    assert status["options"]["plan"] == {"plan_name": "weekly-orders", "plan_version": 2}
    assert ("range", "x") in violations(client, newest)  # the tightened range is what the batch is held to
    older, status = cleaned(client, run_worker, csv(batch(seed=3)), plan_name="weekly-orders", plan_version="1")
    assert status["options"]["plan"]["plan_version"] == 1 and ("range", "x") not in violations(client, older)
    assert upload_feed(client, csv(batch()), plan_name="nope").status_code == 404
    assert upload_feed(client, csv(batch()), plan_name="weekly-orders", plan_version="x").status_code == 400


def test_saved_plans_are_owned_like_datasets_in_token_mode(token_app, tc):
    alice, bob, carol = (make_token(token_app, "alice", "lab"), make_token(token_app, "bob"),
                         make_token(token_app, "carol", "lab"))
    document = {"plan_version": 1, "expectations": {"columns": {"x": {"range": [0, 1]}}}}
    mine = tc.post("/plans", json={"name": "shared", "plan": document, "collaboration_id": "lab"},
                   headers=bearer(alice))
    assert mine.status_code == 201 and mine.json["user_id"] == "alice"
    assert tc.get("/plans/shared/versions/1", headers=bearer(bob)).status_code == 404
    assert tc.get("/plans", headers=bearer(bob)).json["plans"] == []
    assert tc.get("/plans/shared/versions/1", headers=bearer(carol)).json["expectations"]["columns"]["x"]
    stranger = upload(tc, csv(batch()), "o.csv", headers=bearer(bob), plan_name="shared")
    assert stranger.status_code == 404


def test_a_deleted_version_is_gone_and_its_number_not_reused(client):
    document = {"plan_version": 1, "expectations": {"columns": {"x": {"range": [0, 1]}}}}
    for _ in range(2):
        assert client.post("/plans", json={"name": "old", "plan": document, "user_id": "feed"}).status_code == 201
    assert client.delete("/plans/old/versions/2?user_id=feed").status_code == 204
    assert get(client, "/plans/old/versions/2").status_code == 404
    assert [(p["version"], p["versions"]) for p in get(client, "/plans").json["plans"]] == [(1, 1)]
    again = client.post("/plans", json={"name": "old", "plan": document, "user_id": "feed"})
    assert again.json["version"] == 3  # version 2 stays what it was: deleted
    assert client.delete("/plans/old/versions/2?user_id=feed").status_code == 404
    assert client.delete("/plans/old?user_id=someone").status_code == 404  # not theirs to see
    assert client.delete("/plans/old?user_id=feed").status_code == 204
    assert get(client, "/plans").json["plans"] == []
    assert upload_feed(client, csv(batch()), plan_name="old").status_code == 404


def test_only_the_owner_deletes_a_shared_plan(token_app, tc):
    alice, carol = make_token(token_app, "alice", "lab"), make_token(token_app, "carol", "lab")
    document = {"plan_version": 1}
    tc.post("/plans", json={"name": "shared", "plan": document, "collaboration_id": "lab"}, headers=bearer(alice))
    refused = tc.delete("/plans/shared", headers=bearer(carol))
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert tc.get("/plans/shared/versions/1", headers=bearer(carol)).status_code == 200
    assert tc.delete("/plans/shared/versions/1", headers=bearer(alice)).status_code == 204
    assert tc.get("/plans/shared/versions/1", headers=bearer(carol)).status_code == 404


def test_a_batch_whose_column_no_longer_parses_is_reported_not_crashed(client, run_worker):
    first, _ = cleaned(client, run_worker, csv(batch()))
    week2 = batch(seed=3).assign(x=lambda f: f.x.map(lambda v: f"about {v}"))  # the numbers came as text
    second, status = cleaned(client, run_worker, csv(week2), plan_from=first)
    assert status["status"] == "completed", status["error"]
    assert ("type", "x") in violations(client, second)


def test_strict_reprocess_keeps_the_plan_and_a_plan_keeps_its_target(client, run_worker):
    first, _ = cleaned(client, run_worker, csv(batch()), target="price")
    second, _ = cleaned(client, run_worker, csv(batch(seed=3)), plan_from=first)
    again = client.post(f"/dataset/{second}/reprocess", data={"strict": "true", "user_id": "feed"})
    assert again.status_code == 202, again.json
    assert again.json["options"]["plan"] == {"dataset_id": first, "run": 1} and again.json["target"] == "price"
    other = upload_feed(client, csv(batch()), plan_from=first, target="x")
    assert (other.status_code, other.json["error"]["details"]["plan_target"]) == (400, "price")


def test_an_anonymous_uploader_applies_the_plans_it_saved(client, run_worker):
    response = upload(client, csv(batch()), "o.csv")
    run_worker()
    dataset_id = response.json["dataset_id"]
    assert client.post("/plans", data={"name": "mine", "dataset_id": dataset_id}).status_code == 201
    applied = upload(client, csv(batch(seed=3)), "o.csv", plan_name="mine")
    assert applied.status_code == 202 and applied.json["options"]["plan"] == {"plan_name": "mine", "plan_version": 1}


def _script_output(client, dataset_id: str, raw: bytes, folder) -> pd.DataFrame:
    """GET plan.py, run as a user would (pandas and numpy, nothing of ours) on the raw file."""
    response = get(client, f"/dataset/{dataset_id}/plan.py")
    assert response.status_code == 200 and response.mimetype == "text/x-python"
    assert f'filename="plan-{dataset_id}.py"' in response.headers["Content-Disposition"]
    folder.mkdir()
    (folder / "orders.csv").write_bytes(raw)
    return pd.read_csv(run_plan_script(response.data, folder / "orders.csv", folder))


def test_the_exported_script_reproduces_the_cleaned_download_of_each_batch(client, run_worker, tmp_path):
    """Week 1 cleaned afresh, week 2 with week 1's plan: each run's script gives that run's cleaned table."""
    first_raw, second_raw = csv(batch()), csv(batch(seed=3))
    first, status = cleaned(client, run_worker, first_raw, outliers="clip")
    assert status["status"] == "completed" and status["links"]["plan_script"].endswith("/plan.py")
    second, status = cleaned(client, run_worker, second_raw, plan_from=first)
    assert status["status"] == "completed"
    page = get(client, f"/dataset/{first}/view").get_data(as_text=True)
    assert f'id="plan-script-link" href="/dataset/{first}/plan.py' in page
    for dataset_id, raw in ((first, first_raw), (second, second_raw)):
        served = pd.read_csv(io.BytesIO(get(client, f"/dataset/{dataset_id}/cleaned").data))
        pd.testing.assert_frame_equal(served, _script_output(client, dataset_id, raw, tmp_path / dataset_id),
                                      check_dtype=False)


def test_a_file_the_script_cannot_read_gets_a_clear_409(client, run_worker):
    response = upload(client, batch().to_json(orient="records").encode(), "orders.json", user_id="feed")
    assert response.status_code == 202
    run_worker()
    dataset_id = response.json["dataset_id"]
    assert "plan_script" not in get(client, f"/dataset/{dataset_id}/status").json["links"]
    refused = get(client, f"/dataset/{dataset_id}/plan.py")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "not_exportable"
