"""Upload → RQ → worker → cleaned download, through the API, real Redis and database."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from rq import Queue
from rq.job import Job

from app.models import Dataset, StepLog
from tests.conftest import upload

CSV = b"id,price,ok,age,city\n1,\"$1,200\",yes,30,Paris\n2,$5,no,,Rome\n3,?,Y,40,\n3,?,Y,40,\n4,$8,N,NA,Paris\n"


def test_upload_queues_a_job_with_only_the_id(client, redis_conn):
    response = upload(client, CSV, "sales.csv", user_id="alice", collaboration_id="team1", mode="smart")
    assert response.status_code == 202, response.json
    body = response.json
    assert (body["rows"], body["columns"], body["status"], body["mode"]) == (5, 5, "queued", "smart")
    assert body["database_name"] == "sales" and body["enqueued"] is True
    assert response.headers["Location"] == f"/dataset/{body['dataset_id']}/status"
    job = Job.fetch(body["job_id"], connection=redis_conn)
    assert job.args == (body["dataset_id"],) and job.origin == "eda_fast"
    assert job.timeout == 600 and job.result_ttl == 0 and job.failure_ttl == 86400 and job.retries_left == 3


def test_deep_goes_to_deep_queue(client, redis_conn):
    body = upload(client, CSV, "sales.csv", mode="deep").json
    assert Queue("eda_deep", connection=redis_conn).job_ids == [body["job_id"]]
    assert Job.fetch(body["job_id"], connection=redis_conn).timeout == 1800


def test_worker_cleans_and_downloads_work(client, run_worker, db):
    body = upload(client, CSV, "sales.csv", user_id="alice").json
    dataset_id = body["dataset_id"]
    assert client.get(f"/dataset/{dataset_id}/cleaned").status_code == 409
    assert run_worker()
    status = client.get(f"/dataset/{dataset_id}/status").json
    assert status["status"] == "completed" and status["progress"] == 100 and status["attempts"] == 1
    assert status["database_name"] == "sales" and "Done" in status["progress_info"]
    assert status["completed_at"] and status["started_at"] and status["error"] is None

    cleaned = client.get(f"/dataset/{dataset_id}/cleaned")
    assert cleaned.status_code == 200 and cleaned.mimetype == "text/csv"
    assert "sales_cleaned.csv" in cleaned.headers["Content-Disposition"]
    frame = pd.read_csv(io.BytesIO(cleaned.data))
    # numbers and booleans are filled; a city is identifying text and may stay missing (never invented)
    assert len(frame) == 4 and frame[["price", "ok", "age"]].isna().sum().sum() == 0
    assert frame["price"].tolist()[0] == 1200
    parquet = pd.read_parquet(io.BytesIO(client.get(f"/dataset/{dataset_id}/cleaned?format=parquet").data))
    assert parquet.shape == frame.shape and pd.api.types.is_bool_dtype(parquet["ok"])
    assert client.get(f"/dataset/{dataset_id}/raw").data == CSV

    logs = client.get(f"/dataset/{dataset_id}/logs/cleaning").json["entries"]
    actions = [e["action"] for e in logs]
    assert actions[0] == "load" and "convert_numeric" in actions and "drop_duplicate_rows" in actions
    assert all(e["source"] == "heuristic" for e in logs)
    assert client.get(f"/dataset/{dataset_id}/logs/outliers").json["entries"] == []
    assert client.get(f"/dataset/{dataset_id}/logs/bogus").status_code == 404


def test_rerun_is_idempotent(client, run_worker, app, db):
    from jobs.process import process_dataset
    dataset_id = upload(client, CSV, "sales.csv").json["dataset_id"]
    run_worker()
    count = StepLog.query.filter_by(dataset_id=dataset_id).count()
    process_dataset(dataset_id)
    db.session.expire_all()
    assert StepLog.query.filter_by(dataset_id=dataset_id).count() == count
    dataset = db.session.get(Dataset, dataset_id)
    assert dataset.status == "completed" and dataset.attempts == 2


def test_other_users_get_404(client):
    dataset_id = upload(client, CSV, "sales.csv", user_id="alice", collaboration_id="team1").json["dataset_id"]
    assert client.get(f"/dataset/{dataset_id}/status?user_id=bob").status_code == 404
    assert client.get(f"/dataset/{dataset_id}/status?user_id=bob&collaboration_id=team1").status_code == 200
    assert client.get(f"/dataset/{dataset_id}/raw?user_id=alice").status_code == 200
    missing = client.get("/dataset/0123456789abcdef0123456789abcdef/status")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_list_is_newest_first_and_pages(client):
    ids = [upload(client, CSV, "sales.csv", user_id="carol").json["dataset_id"] for _ in range(5)]
    upload(client, CSV, "sales.csv", user_id="dave")
    first = client.get("/datasets?user_id=carol&limit=2").json
    assert [d["dataset_id"] for d in first["datasets"]] == ids[::-1][:2]
    second = client.get(f"/datasets?user_id=carol&limit=2&cursor={first['next_cursor']}").json
    third = client.get(f"/datasets?user_id=carol&limit=2&cursor={second['next_cursor']}").json
    seen = [d["dataset_id"] for page in (first, second, third) for d in page["datasets"]]
    assert seen == ids[::-1] and third["next_cursor"] is None
    by_offset = client.get("/datasets?user_id=carol&limit=2&offset=4").json
    assert [d["dataset_id"] for d in by_offset["datasets"]] == [ids[0]]
    statuses = client.get("/datasets/status?user_id=carol").json["datasets"]
    assert len(statuses) == 5 and {s["status"] for s in statuses} == {"queued"}


@pytest.mark.parametrize("query,code", [
    ("", "missing_parameter"), ("?user_id=x&limit=0", "invalid_parameter"),
    ("?user_id=x&cursor=%%%", "invalid_cursor"), ("?user_id=x&status=weird", "invalid_parameter"),
    ("?user_id=../etc", "invalid_parameter"),
])
def test_list_rejects_bad_parameters(client, query, code):
    response = client.get(f"/datasets{query}")
    assert response.status_code == 400 and response.json["error"]["code"] == code


def test_health(client):
    body = client.get("/health").json
    assert body["status"] == "ok" and body["database"]["ok"] and body["redis"]["ok"]
    assert client.get("/health/database").status_code == 200
    assert client.get("/health/redis").status_code == 200
    workers = client.get("/health/workers")
    assert workers.status_code == 503 and workers.json["failing"] == ["workers"]


def test_job_failure_is_recorded_then_retried(client, run_worker, app, db, redis_conn):
    from rq.registry import ScheduledJobRegistry
    body = upload(client, CSV, "sales.csv").json
    dataset = db.session.get(Dataset, body["dataset_id"])
    app.extensions["storage"].delete(dataset.raw_key)  # the job will not find its input
    run_worker()
    db.session.expire_all()
    dataset = db.session.get(Dataset, body["dataset_id"])
    assert dataset.status == "queued" and "no such object" in dataset.error
    assert "will retry" in dataset.progress_info
    assert body["job_id"] in ScheduledJobRegistry("eda_fast", connection=redis_conn).get_job_ids()


def test_job_failure_without_retries_is_failed(client, app, db):
    from jobs.process import process_dataset
    body = upload(client, CSV, "sales.csv").json
    dataset = db.session.get(Dataset, body["dataset_id"])
    app.extensions["storage"].delete(dataset.raw_key)
    with pytest.raises(Exception, match="no such object"):
        process_dataset(body["dataset_id"])
    db.session.expire_all()
    dataset = db.session.get(Dataset, body["dataset_id"])
    assert dataset.status == "failed" and dataset.error.startswith("MissingObject: no such object")
