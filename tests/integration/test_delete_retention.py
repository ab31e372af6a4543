"""DELETE /dataset/{id} removes rows, files and the queued job; retention purges old raw files only."""
from __future__ import annotations

import json
from datetime import timedelta

from app.models import CleaningReport, Dataset, Graph, ModeUsage, StepLog, utcnow
from app.retention import purge_if_due
from tests.conftest import accepted, stored_files

CSV = b"a,b,c\n1,2,x\n3,,y\n5,6,\n7,8,x\n9,10,y\n"


def test_delete_completed_dataset_removes_rows_and_files_but_not_quota_use(app, client, db, run_worker):
    body = accepted(client, CSV, user_id="u1", mode="smart")
    run_worker()
    dataset_id = body["dataset_id"]
    assert Graph.query.filter_by(dataset_id=dataset_id).count() > 0
    assert any(dataset_id in f for f in stored_files(app))

    assert client.delete(f"/dataset/{dataset_id}").status_code == 403  # open mode: the owner must say so
    assert client.delete(f"/dataset/{dataset_id}?user_id=u2").status_code == 404  # not u2's to see
    assert client.delete(f"/dataset/{dataset_id}?user_id=u1").status_code == 204
    assert client.get(f"/dataset/{dataset_id}/status").status_code == 404
    assert not any(dataset_id in f for f in stored_files(app))
    for model in (Graph, StepLog, CleaningReport):
        assert model.query.filter_by(dataset_id=dataset_id).count() == 0
    assert ModeUsage.query.filter_by(user_id="u1", mode="smart").count() == 1  # deleting refunds nothing
    assert client.delete(f"/dataset/{dataset_id}?user_id=u1").status_code == 404


def test_delete_queued_dataset_takes_its_job_off_the_queue(app, client, db, redis_conn, run_worker):
    body = accepted(client, CSV, user_id="u1")
    assert redis_conn.llen("rq:queue:eda_fast") == 1
    assert client.delete(f"/dataset/{body['dataset_id']}?user_id=u1").status_code == 204
    assert redis_conn.llen("rq:queue:eda_fast") == 0 and not redis_conn.exists(f"rq:job:{body['job_id']}")
    assert stored_files(app) == [] and Dataset.query.count() == 0
    run_worker()  # nothing left to run, nothing breaks


def test_delete_while_processing_is_refused(client, db):
    body = accepted(client, CSV, user_id="u1")
    dataset = db.session.get(Dataset, body["dataset_id"])
    dataset.status = "processing"
    db.session.commit()
    response = client.delete(f"/dataset/{body['dataset_id']}?user_id=u1")
    assert response.status_code == 409 and response.json["error"]["code"] == "busy"


def test_retention_purges_old_finished_raw_files_only(app, client, db, run_worker, redis_conn):
    old, recent = accepted(client, CSV, user_id="u1")["dataset_id"], accepted(client, CSV, user_id="u1")["dataset_id"]
    run_worker()
    waiting = accepted(client, CSV, user_id="u1")["dataset_id"]  # queued: its job still needs the raw file
    for dataset_id in (old, waiting):
        db.session.get(Dataset, dataset_id).updated_at = utcnow() - timedelta(days=10)
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["purge", "--raw-older-than", "7"])
    assert json.loads(result.output) == {"purged": [old]}
    assert client.get(f"/dataset/{old}/raw").status_code == 410
    assert client.get(f"/dataset/{old}/raw").json["error"]["code"] == "purged"
    assert client.get(f"/dataset/{old}/cleaned").status_code == 200  # the results stay
    assert client.get(f"/dataset/{recent}/raw").status_code == 200
    assert client.get(f"/dataset/{waiting}/raw").status_code == 200

    db.session.get(Dataset, recent).updated_at = utcnow() - timedelta(days=10)
    db.session.commit()
    assert purge_if_due(redis_conn, days=7) == [recent]
    db.session.get(Dataset, waiting).status = "completed"
    db.session.commit()
    assert purge_if_due(redis_conn, days=7) == []  # at most once an hour across processes
    assert purge_if_due(redis_conn, days=0) == []
