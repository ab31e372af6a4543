"""Direct uploads: reserve, send the file with the returned form (to this API with local storage, to the bucket
through boto3's presigned POST against moto's server), complete; refusals and expiry leave nothing behind."""
from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import urlsplit

import requests

from app import create_app
from app.direct import expire_reservations
from app.extensions import db as _db
from app.models import Dataset, ModeUsage, utcnow
from app.tokens import create_token
from tests.conftest import make_config
from tests.integration.conftest import keys, run_jobs

CSV = b"city,price\nOslo,12.5\nBergen,9\nOslo,14\nTromso,11\n"


def reserve(client, size: int = len(CSV), **fields):
    return client.post("/dataset/upload-url", json={"filename": "prices.csv", "size": size, **fields})


def send(client, upload: dict, data: bytes = CSV):
    """What any client does with the form: its fields, then the file (here through the test client)."""
    return client.post(urlsplit(upload["url"]).path, data={**upload["fields"], "file": (io.BytesIO(data), "f.csv")},
                       content_type="multipart/form-data")


def test_local_reserve_send_complete_and_clean(client, run_worker):
    reserved = reserve(client, user_id="d", mode="smart")
    assert reserved.status_code == 201, reserved.json
    body = reserved.json
    assert body["status"] == "awaiting_file" and body["upload"]["method"] == "POST"
    assert body["upload"]["max_bytes"] == len(CSV) and body["upload"]["file_field"] == "file"
    assert ModeUsage.query.filter_by(user_id="d").count() == 1  # reserved now
    early = client.post(body["links"]["complete"])
    assert early.status_code == 409 and early.json["error"]["code"] == "not_uploaded"
    assert send(client, body["upload"]).status_code == 204
    done = client.post(body["links"]["complete"])
    assert done.status_code == 202 and done.json["status"] == "queued" and done.json["rows"] == 4
    assert done.json["columns"] == 2 and done.json["enqueued"] is True
    assert client.post(body["links"]["complete"]).json["error"]["code"] == "not_awaiting_file"
    run_worker()
    assert client.get(f"/dataset/{body['dataset_id']}/status").json["status"] == "completed"


def test_the_form_is_the_credential_and_the_size_its_limit(client):
    upload = reserve(client).json["upload"]
    forged = client.post(urlsplit(upload["url"]).path, data={"upload_secret": "guess", "file": (io.BytesIO(CSV), "f")},
                         content_type="multipart/form-data")
    assert forged.status_code == 403
    bigger = send(client, upload, CSV + b"Oslo,1\n")
    assert bigger.status_code == 413 and bigger.json["error"]["code"] == "too_large"


def test_a_bad_file_at_complete_leaves_nothing(client, app):
    body = reserve(client, size=20, user_id="bad", mode="deep").json
    assert send(client, body["upload"], b"\x00\x01 not a table").status_code == 204
    refused = client.post(body["links"]["complete"])
    assert refused.status_code in (415, 422), refused.json
    assert client.get(f"/dataset/{body['dataset_id']}/status").status_code == 404
    assert ModeUsage.query.filter_by(user_id="bad").count() == 0  # the deep quota given back
    assert not app.extensions["storage"].exists(f"datasets/{body['dataset_id']}/raw.csv")


def test_reservation_checks(client):
    assert reserve(client, size=0).json["error"]["code"] == "invalid_parameter"
    assert reserve(client, size=10**12).status_code == 413
    assert client.post("/dataset/upload-url", json={"filename": "x.exe", "size": 10}).status_code == 415


def test_expired_reservations_are_removed_and_refunded(client, app):
    body = reserve(client, user_id="late", mode="smart").json
    send(client, body["upload"])
    Dataset.query.filter_by(id=body["dataset_id"]).update({"created_at": utcnow() - timedelta(hours=2)})
    _db.session.commit()
    assert client.post(body["links"]["complete"]).status_code == 410  # expired: refused and cleaned up
    other = reserve(client, user_id="late", mode="smart").json
    Dataset.query.filter_by(id=other["dataset_id"]).update({"created_at": utcnow() - timedelta(hours=2)})
    _db.session.commit()
    assert expire_reservations() == [other["dataset_id"]]
    assert ModeUsage.query.filter_by(user_id="late").count() == 0
    assert not app.extensions["storage"].exists(f"datasets/{body['dataset_id']}/raw.csv")


def test_token_mode_reserves_with_the_token_and_sends_without_one(settings, db, tmp_path):
    token_app = create_app(make_config(settings, tmp_path, AUTH_MODE="token"))
    _, token = create_token("direct")
    client = token_app.test_client()
    assert reserve(client).status_code == 401
    body = client.post("/dataset/upload-url", json={"filename": "p.csv", "size": len(CSV)},
                       headers={"Authorization": f"Bearer {token}"}).json
    assert send(client, body["upload"]).status_code == 204  # no bearer: the form's secret is enough
    assert client.post(body["links"]["complete"], headers={"Authorization": f"Bearer {token}"}).status_code == 202


def test_s3_presigned_post_through_boto3_and_moto(s3_app, raw_s3, redis_conn):
    application = s3_app()
    client = application.test_client()
    body = reserve(client, user_id="s3").json
    upload = body["upload"]
    assert upload["url"].startswith("http://127.0.0.1:") and "policy" in upload["fields"]  # the bucket, not us
    sent = requests.post(upload["url"], data=upload["fields"], files={upload["file_field"]: ("p.csv", CSV)},
                         timeout=10)
    assert sent.status_code in (200, 204), sent.text
    assert keys(raw_s3) == [f"w/datasets/{body['dataset_id']}/raw.csv"]
    done = client.post(body["links"]["complete"])
    assert done.status_code == 202 and done.json["rows"] == 4
    run_jobs(application, redis_conn)
    assert client.get(f"/dataset/{body['dataset_id']}/status").json["status"] == "completed"
