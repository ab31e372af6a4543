"""Smart and deep through the API and a real worker: quotas, the advisor, report and features."""
from __future__ import annotations

import io
import json
import threading

import numpy as np
import pandas as pd

from app.models import CleaningReport, ModeUsage
from tests.fakes.gemini import text_reply
from tests.integration.conftest import upload_orders


def test_quota_is_429_before_anything_is_stored(client, app):
    for _ in range(3):
        assert upload_orders(client, user_id="q", mode="smart").status_code == 202
    response = upload_orders(client, user_id="q", mode="smart")
    assert response.status_code == 429 and response.json["error"]["code"] == "quota_exceeded"
    assert response.json["error"]["details"] == {"mode": "smart", "limit": 3, "used": 3, "window_hours": 0,
                                                 "setting": "SMART_QUOTA"}
    assert "SMART_QUOTA" in response.json["error"]["message"]  # the operator knows what raises it
    assert upload_orders(client, user_id="q", mode="deep").status_code == 202
    deep = upload_orders(client, user_id="q", mode="deep")
    assert deep.status_code == 429 and deep.json["error"]["details"]["setting"] == "DEEP_QUOTA"
    assert "DEEP_QUOTA=1" in deep.json["error"]["message"] and "QUOTA_WINDOW_HOURS" not in deep.json["error"]["message"]
    assert upload_orders(client, user_id="q", mode="fast").status_code == 202  # unlimited
    assert upload_orders(client, user_id="other", mode="deep").status_code == 202
    assert ModeUsage.query.filter_by(user_id="q").count() == 4


def test_rejected_upload_does_not_use_quota(client):
    assert upload_orders(client, b"a,b\n", user_id="r", mode="deep").status_code == 422
    assert upload_orders(client, user_id="r", mode="deep").status_code == 202


def test_quota_window(client, app, db, monkeypatch):
    monkeypatch.setitem(app.config, "QUOTA_WINDOW_HOURS", 1)
    assert upload_orders(client, user_id="w", mode="deep").status_code == 202
    usage = ModeUsage.query.filter_by(user_id="w").one()
    usage.created_at = usage.created_at.replace(year=2000)  # outside the window now
    db.session.commit()
    assert upload_orders(client, user_id="w", mode="deep").status_code == 202
    error = upload_orders(client, user_id="w", mode="deep").json["error"]
    assert "DEEP_QUOTA=1, QUOTA_WINDOW_HOURS=1" in error["message"]
    assert (error["details"]["setting"], error["details"]["window_setting"]) == ("DEEP_QUOTA", "QUOTA_WINDOW_HOURS")


def test_concurrent_uploads_cannot_exceed_the_quota(app, db):
    results: list[int] = []
    barrier = threading.Barrier(8)

    def one():
        client = app.test_client()
        barrier.wait()
        results.append(upload_orders(client, user_id="race", mode="smart").status_code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [202] * 3 + [429] * 5, results
    assert ModeUsage.query.filter_by(user_id="race", mode="smart").count() == 3


def test_smart_mode_asks_the_advisor_and_logs_it(client, run_worker, gemini):
    gemini.reply = text_reply(json.dumps({"columns": [
        {"column": "price", "action": "regression", "params": {"predictors": ["x"]}, "reasoning": "tracks x",
         "confidence": 0.9}]}))
    dataset_id = upload_orders(client, user_id="s", mode="smart").json["dataset_id"]
    run_worker()
    assert client.get(f"/dataset/{dataset_id}/status").json["status"] == "completed"
    entries = client.get(f"/dataset/{dataset_id}/logs/cleaning").json["entries"]
    price = next(e for e in entries if e["column"] == "price" and e["action"].startswith("impute"))
    assert (price["action"], price["source"], price["params"]["confidence"]) == ("impute_regression", "advisor", 0.9)
    cleaned = pd.read_csv(io.BytesIO(client.get(f"/dataset/{dataset_id}/cleaned").data))
    assert (cleaned["price"] - (3 * cleaned["x"] + 7)).abs().quantile(0.95) < 1  # predicted, not a flat mean
    assert client.get(f"/dataset/{dataset_id}/report").status_code == 404  # reports are deep only
    status = client.get(f"/dataset/{dataset_id}/status").json
    assert status["advisor"]["used"] is True and status["advisor"]["reason"] is None
    assert "price" in status["advisor"]["columns"] and "heuristics" not in status["progress_info"]


def test_deep_mode_report_without_key(client, run_worker):
    dataset_id = upload_orders(client, user_id="d", mode="deep", target="x").json["dataset_id"]
    assert client.get(f"/dataset/{dataset_id}/report").status_code == 409
    run_worker()
    status = client.get(f"/dataset/{dataset_id}/status").json
    reason = "no Gemini API key is configured (GEMINI_API_KEY)"
    assert status["advisor"] == {"used": False, "reason": reason, "model": None, "columns": ["price", "city"]}
    assert status["progress_info"].endswith(f"ran on heuristics: {reason}.")
    page = client.get(f"/dataset/{dataset_id}/view").get_data(as_text=True)
    assert "Ran on heuristics:" in page and reason in page
    report = client.get(f"/dataset/{dataset_id}/report").json
    assert report["mode"] == "deep" and report["source"] == "heuristic"
    assert report["summary"] and report["recommendations"] and report["created_at"]
    assert [r["column"] for r in report["reasoning"]] == ["price", "city"]
    assert all(r["examples"] for r in report["reasoning"])


def clean_table_with_a_far_value() -> bytes:
    """Already clean: one genuine far weight, and notes whose gaps mean 'no note'."""
    rng = np.random.default_rng(7)
    weight = rng.normal(70, 5, 60).round(1)
    weight[17] = 250.0
    notes = [f"note {i}: {k} deliveries via {rng.choice(['north', 'south', 'east', 'west'])} gate <{i}>"
             for i, k in enumerate(rng.integers(1, 999, 60))]
    frame = pd.DataFrame({"weight": weight, "height": rng.normal(170, 8, 60).round(1), "notes": notes})
    frame.loc[[3, 11, 29, 44], "notes"] = None
    return frame.to_csv(index=False).encode()


def test_deep_report_lists_what_was_flagged_and_left_alone(client, run_worker):
    dataset_id = upload_orders(client, clean_table_with_a_far_value(), user_id="h", mode="deep").json["dataset_id"]
    run_worker()
    report = client.get(f"/dataset/{dataset_id}/report").json
    assert report["source"] == "heuristic" and report["changed"] == []
    [far] = [i for i in report["flagged"] if i["column"] == "weight"]
    assert far["action"] == "outliers_flag" and far["count"] == 1 and far["examples"] == ["250"] and far["why"]
    [gaps] = [i for i in report["left_alone"] if i["column"] == "notes" and i["action"] == "leave_missing"]
    assert gaps["count"] == 4 and gaps["why"] and gaps["examples"][0] == "row 3: missing"
    assert "No further action needed" not in report["summary"] + " ".join(report["recommendations"])
    assert "1 value flagged and left unchanged, 4 gaps left missing" in report["summary"]
    cleaned = pd.read_csv(io.BytesIO(client.get(f"/dataset/{dataset_id}/cleaned").data))
    assert cleaned["weight"].iloc[17] == 250.0 and cleaned["notes"].isna().sum() == 4  # nothing changed
    page = client.get(f"/dataset/{dataset_id}/view").get_data(as_text=True)
    assert "Flagged, left unchanged" in page and "e.g. 250" in page and gaps["why"] in page
    assert "gate &lt;0&gt;" in page and "gate <0>" not in page  # examples are escaped


def test_reports_recorded_before_the_lists_answer_empty_lists(client, run_worker, db):
    dataset_id = upload_orders(client, user_id="old", mode="deep").json["dataset_id"]
    run_worker()
    CleaningReport.query.filter_by(dataset_id=dataset_id).one().details = None
    db.session.commit()
    report = client.get(f"/dataset/{dataset_id}/report").json
    assert (report["changed"], report["flagged"], report["left_alone"]) == ([], [], [])
    assert report["summary"] and report["recommendations"] and report["reasoning"]
    assert client.get(f"/dataset/{dataset_id}/view").status_code == 200


def test_smart_mode_advisor_failure_is_reported(client, run_worker, gemini):
    gemini.reply = text_reply("not json at all")
    dataset_id = upload_orders(client, user_id="s2", mode="smart").json["dataset_id"]
    run_worker()
    status = client.get(f"/dataset/{dataset_id}/status").json
    assert status["status"] == "completed" and status["advisor"]["used"] is False
    assert status["advisor"]["reason"].startswith("the advisor failed (")
    assert "ran on heuristics: the advisor failed" in status["progress_info"]


def test_fast_mode_has_no_advisor_state(client, run_worker):
    dataset_id = upload_orders(client, user_id="f0").json["dataset_id"]
    run_worker()
    status = client.get(f"/dataset/{dataset_id}/status").json
    assert status["advisor"] is None and "heuristics" not in status["progress_info"]
    assert "Ran on heuristics" not in client.get(f"/dataset/{dataset_id}/view").get_data(as_text=True)


def test_features_endpoint_and_table(client, run_worker):
    dataset_id = upload_orders(client, user_id="f", target="x").json["dataset_id"]
    assert client.get(f"/dataset/{dataset_id}/features").status_code == 409
    run_worker()
    body = client.get(f"/dataset/{dataset_id}/features").json
    assert body["output_feature"]["name"] == "x" and body["target"] == "x"
    names = [f["name"] for f in body["input_features"]]
    assert "order_id" not in names and any(n.startswith("city=") for n in names)
    assert all(f["transform"] and f["description"] for f in body["input_features"])
    table = pd.read_csv(io.BytesIO(client.get(body["links"]["csv"]).data))
    assert list(table.columns) == names + ["x"] and table.isna().sum().sum() == 0
    cleaned = pd.read_csv(io.BytesIO(client.get(f"/dataset/{dataset_id}/cleaned").data))
    assert table["x"].tolist() == cleaned["x"].tolist()  # the output feature stays unscaled
    assert "order_id" in cleaned.columns and cleaned["price"].min() > 100  # readable units
    parquet = client.get(f"/dataset/{dataset_id}/features.parquet")
    assert parquet.status_code == 200 and pd.read_parquet(io.BytesIO(parquet.data)).shape == table.shape
    logs = client.get(f"/dataset/{dataset_id}/logs/features").json["entries"]
    assert {"drop_id_like", "one_hot"} <= {e["action"] for e in logs}
