"""Per-upload options: validated at upload, stored on the dataset, carried into a real job run."""
from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from app.models import Dataset
from tests.conftest import stored_files, upload

DEFAULTS = {"na_values": [], "roles": {}, "outliers": "flag", "outlier_columns": False,
            "missing_indicators": False, "features": True}
GROSS = 5_000.0  # fifty times the usual amount: no power of ten brings it back, so nothing repairs it


def table_bytes(n: int = 80, seed: int = 5) -> bytes:
    """Clean amounts with one gross value, a score column whose gaps are written 'n.v.', a category."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(100, 10, n).round(2)
    amount[7] = GROSS
    score = rng.normal(50, 5, n).round(1).astype(object)
    score[rng.permutation(n)[:8]] = "n.v."  # 10%: without na_values the column is not numeric
    frame = pd.DataFrame({"order": range(1, n + 1), "amount": amount, "score": score,
                          "zip": [f"{v:05d}" for v in rng.integers(1000, 99999, n)],
                          "city": rng.choice(["Oslo", "Rome", "Lima"], n)})
    return frame.to_csv(index=False).encode()


TABLE = table_bytes()


def cleaned(client, dataset_id: str) -> pd.DataFrame:
    response = client.get(f"/dataset/{dataset_id}/cleaned")
    assert response.status_code == 200, response.data[:300]
    return pd.read_csv(io.BytesIO(response.data))


class Serve(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(TABLE)))
        self.end_headers()
        self.wfile.write(TABLE)

    def log_message(self, *args):
        return None


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Serve)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/orders.csv"
    httpd.shutdown()


@pytest.fixture()
def url_client(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "ALLOW_PRIVATE_URLS", True)
    return app.test_client()


# -- accepted and stored ---------------------------------------------------------------------------

def test_defaults_are_stored_and_shown(client, db):
    body = upload(client, TABLE, "orders.csv").json
    assert body["options"] == DEFAULTS
    assert db.session.get(Dataset, body["dataset_id"]).options == DEFAULTS
    status = client.get(f"/dataset/{body['dataset_id']}/status").json
    assert status["options"] == DEFAULTS and status["advisor"] is None
    assert {"imputed", "features", "features_csv"} <= set(status["links"])


@pytest.mark.parametrize("fields,stored", [
    ({"na_values": "n.v., -999 ,n.v.,,"}, {"na_values": ["n.v.", "-999"]}),
    ({"na_values": '["n.v.", "a,b"]'}, {"na_values": ["n.v.", "a,b"]}),
    ({"roles": '{"zip": "code", "city": "Text"}'}, {"roles": {"zip": "code", "city": "text"}}),
    ({"outliers": "CLIP"}, {"outliers": "clip"}),
    ({"outliers": "off"}, {"outliers": "off"}),
    ({"outliers": "null"}, {"outliers": "null"}),
    ({"outlier_columns": "yes"}, {"outlier_columns": True}),
    ({"missing_indicators": "1"}, {"missing_indicators": True}),
    ({"features": "False"}, {"features": False}),
    ({"features": "no", "missing_indicators": "0", "outlier_columns": "true"},
     {"features": False, "missing_indicators": False, "outlier_columns": True}),
    ({"outliers": "", "na_values": "", "roles": ""}, {}),  # empty form fields mean the default
])
def test_each_option_is_stored(client, db, fields, stored):
    response = upload(client, TABLE, "orders.csv", **fields)
    assert response.status_code == 202, response.json
    expected = {**DEFAULTS, **stored}
    assert response.json["options"] == expected
    assert db.session.get(Dataset, response.json["dataset_id"]).options == expected
    assert client.get(f"/dataset/{response.json['dataset_id']}/status").json["options"] == expected


def test_json_body_takes_typed_values(url_client, server, db):
    response = url_client.post("/dataset/upload", json={
        "dataset_url": server, "na_values": ["n.v."], "roles": {"zip": "code"}, "outliers": "clip",
        "outlier_columns": True, "missing_indicators": 1, "features": False})
    assert response.status_code == 202, response.json
    assert response.json["options"] == {"na_values": ["n.v."], "roles": {"zip": "code"}, "outliers": "clip",
                                        "outlier_columns": True, "missing_indicators": True, "features": False}
    links = response.json["links"]
    assert "features" not in links and "features_csv" not in links and links["imputed"].endswith("/imputed")


# -- rejected: 400 naming the field and the allowed values, nothing left behind ---------------------

BOOLEANS = ["true", "false", "1", "0", "yes", "no"]


@pytest.mark.parametrize("fields,field,allowed", [
    ({"outliers": "remove"}, "outliers", ["off", "flag", "clip", "null"]),
    ({"outlier_columns": "maybe"}, "outlier_columns", BOOLEANS),
    ({"missing_indicators": "2"}, "missing_indicators", BOOLEANS),
    ({"features": "on"}, "features", BOOLEANS),
    ({"roles": '{"zip": "postal"}'}, "roles", None),
    ({"roles": '["zip"]'}, "roles", None),
    ({"roles": "zip=code"}, "roles", None),
    ({"na_values": '["n.v.", 3]'}, "na_values", None),
    ({"na_values": '["n.v."'}, "na_values", None),
    ({"na_values": ",".join(f"t{i}" for i in range(51))}, "na_values", None),
    ({"na_values": "x" * 51}, "na_values", None),
])
def test_invalid_option_is_400_and_leaves_nothing(client, app, db, redis_conn, fields, field, allowed):
    response = upload(client, TABLE, "orders.csv", user_id="bad", mode="deep", **fields)
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["code"] == "invalid_parameter" and error["details"]["field"] == field
    assert field in error["message"]
    if field == "roles" and "postal" in str(fields):
        allowed = ["id", "code", "numeric", "coordinate", "boolean", "datetime", "time", "categorical", "text"]
    if allowed is not None:
        assert error["details"]["allowed"] == allowed and ", ".join(allowed) in error["message"]
    if field == "na_values":
        assert (error["details"]["max_tokens"], error["details"]["max_length"]) == (50, 50)
        assert "50" in error["message"]
    assert Dataset.query.count() == 0 and stored_files(app) == []
    assert redis_conn.llen("rq:queue:eda_deep") == 0
    assert upload(client, TABLE, "orders.csv", user_id="bad", mode="deep").status_code == 202  # no quota was used


def test_invalid_json_body_values_are_400(url_client, server, app, db):
    for body, field in (({"features": "sometimes"}, "features"), ({"outliers": 3}, "outliers"),
                        ({"na_values": {"a": 1}}, "na_values"), ({"roles": ["zip"]}, "roles"),
                        ({"missing_indicators": 2}, "missing_indicators")):
        response = url_client.post("/dataset/upload", json={"dataset_url": server, **body})
        assert response.status_code == 400 and response.json["error"]["details"]["field"] == field, body
    assert Dataset.query.count() == 0 and stored_files(app) == []


def test_roles_naming_an_unknown_column_is_422(client, app, db):
    response = upload(client, TABLE, "orders.csv", user_id="r", mode="smart",
                      roles=json.dumps({"zip": "code", "postcode": "code"}))
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "unknown_column" and "'postcode'" in error["message"]
    assert error["details"]["unknown"] == ["postcode"] and error["details"]["field"] == "roles"
    assert error["details"]["columns"] == ["order", "amount", "score", "zip", "city"]
    assert Dataset.query.count() == 0 and stored_files(app) == []
    assert upload(client, TABLE, "orders.csv", user_id="r", mode="smart").status_code == 202  # the quota was given back


# -- the options reach the pipeline ------------------------------------------------------------------

def test_default_flags_outliers_and_changes_no_value(client, run_worker):
    dataset_id = upload(client, TABLE, "orders.csv").json["dataset_id"]
    assert client.get(f"/dataset/{dataset_id}/imputed").status_code == 409
    run_worker()
    frame = cleaned(client, dataset_id)
    assert frame["amount"].max() == GROSS  # flagged, not changed
    assert not pd.api.types.is_numeric_dtype(frame["score"])  # 'n.v.' is not a missing token by default
    assert not any(c.endswith("_outlier") or c.endswith("_was_missing") for c in frame.columns)
    flagged = [e for e in client.get(f"/dataset/{dataset_id}/logs/outliers").json["entries"]
               if e["column"] == "amount"]
    assert flagged and all("clip" not in e["action"] for e in flagged)
    assert client.get(f"/dataset/{dataset_id}/features").status_code == 200


def test_clip_changes_the_gross_value_and_flag_columns_are_added(client, run_worker):
    clipped = upload(client, TABLE, "orders.csv", outliers="clip").json["dataset_id"]
    flagged = upload(client, TABLE, "orders.csv", outlier_columns="true").json["dataset_id"]
    run_worker()
    assert cleaned(client, clipped)["amount"].max() < GROSS
    frame = cleaned(client, flagged)
    assert frame["amount"].max() == GROSS and frame["amount_outlier"].astype(bool).iloc[7]


def test_na_values_turn_a_token_into_missing_and_imputed_cells_are_listed(client, run_worker):
    dataset_id = upload(client, TABLE, "orders.csv", na_values="n.v.", missing_indicators="true").json["dataset_id"]
    run_worker()
    status = client.get(f"/dataset/{dataset_id}/status").json
    assert status["status"] == "completed", status["error"]
    frame = cleaned(client, dataset_id)
    assert pd.api.types.is_float_dtype(frame["score"]) and "score_was_missing" in frame.columns
    assert frame["score_was_missing"].sum() == 8
    response = client.get(f"/dataset/{dataset_id}/imputed")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "orders_imputed.csv" in response.headers["Content-Disposition"]
    imputed = pd.read_csv(io.BytesIO(response.data))
    assert list(imputed.columns) == ["row", "column", "value", "action"]
    score = imputed[imputed["column"] == "score"]
    assert len(score) == 8 and frame.loc[score["row"], "score_was_missing"].eq(1).all()
    assert f"{len(imputed)} of" in status["progress_info"]


def test_features_off_skips_the_feature_step(client, run_worker, app):
    dataset_id = upload(client, TABLE, "orders.csv", features="false").json["dataset_id"]
    run_worker()
    status = client.get(f"/dataset/{dataset_id}/status").json
    assert status["status"] == "completed", status["error"]
    assert "features" not in status["links"]
    for path in ("features", "features.csv", "features.parquet"):
        response = client.get(f"/dataset/{dataset_id}/{path}")
        assert response.status_code == 404 and response.json["error"]["code"] == "features_disabled"
        assert "features=false" in response.json["error"]["message"]
    assert client.get(f"/dataset/{dataset_id}/logs/features").json["entries"] == []
    assert not any("features" in f for f in stored_files(app))
    page = client.get(f"/dataset/{dataset_id}/view").get_data(as_text=True)
    assert "Features CSV" not in page and "Imputed cells CSV" in page and "features <code>off</code>" in page
