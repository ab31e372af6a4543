"""Injected faults: the database gone (503, nothing half-written) and storage failing under a job."""
from __future__ import annotations

import errno

import pytest
from rq.job import Job
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db as _db
from app.models import Dataset, ModeUsage
from app.storage import LocalStorage
from jobs.process import process_dataset
from tests.conftest import make_config, stored_files, upload

CSV = b"a,b,c\n1,2,x\n3,,y\n5,6,\n7,8,x\n"
DEAD_DB = "postgresql://postgres@127.0.0.1:1/wrangler"  # nothing listens on port 1


@pytest.fixture()
def no_database(settings, tmp_path, redis_conn):
    down = create_app(make_config(settings, tmp_path, SQLALCHEMY_DATABASE_URI="postgresql+psycopg2" + DEAD_DB[10:]))
    yield down, down.test_client()
    with down.app_context():
        _db.engine.dispose()


@pytest.mark.parametrize("method,path", [
    ("get", "/dataset/0123456789abcdef0123456789abcdef/status"), ("get", "/datasets?user_id=u"),
    ("get", "/datasets/status?user_id=u"), ("get", "/collaboration/lab/graphs"),
])
def test_reads_answer_503_json_when_the_database_is_down(no_database, method, path):
    _app, client = no_database
    response = getattr(client, method)(path)
    assert response.status_code == 503 and response.json["error"]["code"] == "database_unavailable"


def test_upload_with_the_database_down_leaves_nothing_behind(no_database, redis_conn, tmp_path):
    down, client = no_database
    for mode in ("fast", "smart"):  # smart touches the database first (quota), fast only at the end
        response = upload(client, CSV, mode=mode)
        assert response.status_code == 503 and response.json["error"]["code"] == "database_unavailable", mode
    assert stored_files(down) == []
    assert redis_conn.llen("rq:queue:eda_fast") == 0
    health = client.get("/health")
    assert health.status_code == 503 and health.json["failing"] == ["database"]


def test_database_lost_at_commit_rolls_everything_back(app, client, db, redis_conn, monkeypatch):
    def lost(*_args, **_kwargs):
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
    monkeypatch.setattr(db.session, "commit", lost)
    response = upload(client, CSV, mode="smart")
    monkeypatch.undo()
    assert response.status_code == 503
    assert Dataset.query.count() == 0 and ModeUsage.query.count() == 0  # quota not spent either
    assert stored_files(app) == [] and redis_conn.llen("rq:queue:eda_fast") == 0


def test_storage_failure_fails_the_attempt_with_the_reason_and_the_retry_completes(app, client, db, monkeypatch,
                                                                                  redis_conn, run_worker):
    body = upload(client, CSV).json
    real_put = LocalStorage.put_file

    def full_disk(self, key, path):
        if "cleaned" in key:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_put(self, key, path)
    monkeypatch.setattr(LocalStorage, "put_file", full_disk)
    run_worker()
    db.session.expire_all()
    dataset = db.session.get(Dataset, body["dataset_id"])
    assert dataset.status == "queued" and "No space left on device" in dataset.error  # RQ retries it
    assert Job.fetch(body["job_id"], connection=redis_conn).retries_left == 2

    monkeypatch.undo()  # space freed: the retry (run here instead of after its 60 s backoff) completes
    with app.app_context():
        process_dataset(body["dataset_id"])
    db.session.expire_all()
    dataset = db.session.get(Dataset, body["dataset_id"])
    assert (dataset.status, dataset.error, dataset.attempts) == ("completed", None, 2)
    assert client.get(f"/dataset/{body['dataset_id']}/cleaned").status_code == 200


def test_a_recorded_file_missing_from_storage_is_a_clear_404(app, client, db, run_worker):
    body = upload(client, CSV).json
    run_worker()
    app.extensions["storage"].delete(f"datasets/{body['dataset_id']}/runs/1/cleaned.csv")  # someone emptied the disk
    response = client.get(f"/dataset/{body['dataset_id']}/cleaned")
    assert response.status_code == 404 and response.json["error"]["code"] == "file_missing"
