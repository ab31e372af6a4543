"""Job control through the API and a real burst worker: cancel a queued run, reprocess, the run history."""
from __future__ import annotations

import time

from rq import Queue
from rq.job import Job

from app import create_app
from app.models import Dataset, Graph, ModeUsage, Run
from app.tokens import create_token
from jobs.queues import FAST_QUEUE, delete_job, job_id_for
from tests.conftest import make_config, upload
from tests.integration.conftest import upload_orders


def _status(client, dataset_id: str) -> dict:
    return client.get(f"/dataset/{dataset_id}/status").json


def test_cancel_a_queued_run_gives_its_quota_back_and_leaves_nothing_queued(client, app, redis_conn, run_worker):
    dataset_id = upload_orders(client, user_id="c", mode="smart").json["dataset_id"]
    assert ModeUsage.query.filter_by(user_id="c").count() == 1
    response = client.post(f"/dataset/{dataset_id}/cancel")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "cancelled" and response.json["quota_refunded"] is True
    assert ModeUsage.query.filter_by(user_id="c").count() == 0
    assert Queue(FAST_QUEUE, connection=redis_conn).count == 0
    run_worker()  # nothing to run: the job left its queue
    status = _status(client, dataset_id)
    assert status["status"] == "cancelled" and status["attempts"] == 0
    assert client.get(f"/dataset/{dataset_id}/cleaned").status_code == 409
    runs = client.get(f"/dataset/{dataset_id}/runs").json
    assert [(r["run"], r["outcome"], r["attempts"]) for r in runs["runs"]] == [(1, "cancelled", [])]
    again = client.post(f"/dataset/{dataset_id}/cancel")
    assert again.status_code == 409 and again.json["error"]["code"] == "not_cancellable"


def test_a_job_taken_after_its_cancel_does_nothing(client, db, run_worker):
    """Redis kept the job (its removal failed): the worker finds the dataset cancelled and leaves it."""
    dataset_id = upload_orders(client, user_id="late").json["dataset_id"]
    Dataset.query.filter_by(id=dataset_id).update({"status": "cancelled"})
    db.session.commit()
    run_worker()
    assert _status(client, dataset_id)["status"] == "cancelled"
    assert Run.query.filter_by(dataset_id=dataset_id).one().attempts == []


def test_reprocess_keeps_serving_the_last_run_until_the_new_one_completes(client, app, run_worker):
    dataset_id = upload_orders(client, user_id="r").json["dataset_id"]
    run_worker()
    first = client.get(f"/dataset/{dataset_id}/cleaned").data
    assert _status(client, dataset_id)["status"] == "completed"
    assert client.post(f"/dataset/{dataset_id}/cancel").status_code == 409  # completed: nothing to cancel

    response = client.post(f"/dataset/{dataset_id}/reprocess", data={"mode": "deep", "outliers": "clip"})
    assert response.status_code == 202, response.json
    assert response.json["run"] == 2 and response.json["status"] == "queued" and response.json["mode"] == "deep"
    assert response.headers["Location"].endswith(f"/dataset/{dataset_id}/status")
    assert response.json["options"]["outliers"] == "clip" and response.json["options"]["features"] is True
    assert client.post(f"/dataset/{dataset_id}/reprocess").json["error"]["code"] == "busy"
    assert client.get(f"/dataset/{dataset_id}/cleaned").data == first  # run 1's outputs, still served
    old_plots = {g.storage_key for g in Graph.query.filter_by(dataset_id=dataset_id)}

    run_worker()
    status = _status(client, dataset_id)
    assert status["status"] == "completed" and status["run"] == 2
    assert client.get(f"/dataset/{dataset_id}/report").status_code == 200  # deep mode's report now
    runs = client.get(f"/dataset/{dataset_id}/runs").json
    assert runs["run"] == 2 and runs["served_run"] == 2
    assert [(r["run"], r["trigger"], r["mode"], r["queue"], r["outcome"], r["served"]) for r in runs["runs"]] == [
        (2, "reprocess", "deep", "eda_deep", "completed", True), (1, "upload", "fast", "eda_fast", "completed", False)]
    for run in runs["runs"]:
        assert [a["outcome"] for a in run["attempts"]] == ["completed"]
        assert run["attempts"][0]["worker"] and run["duration_s"] is not None
    storage = app.extensions["storage"]
    assert not storage.exists(f"datasets/{dataset_id}/runs/1/cleaned.csv")  # the replaced run's files are gone
    assert storage.exists(f"datasets/{dataset_id}/runs/2/cleaned.csv")
    new_plots = {g.storage_key for g in Graph.query.filter_by(dataset_id=dataset_id)}
    assert new_plots and not new_plots & old_plots and not any(storage.exists(key) for key in old_plots)


def test_reprocess_while_an_expired_execution_is_still_listed(client, db, redis_conn, run_worker):
    """RQ keeps an execution's registry entry a minute past its hash; deleting the old job then must not fail."""
    dataset_id = upload_orders(client, user_id="x").json["dataset_id"]
    Dataset.query.filter_by(id=dataset_id).update({"status": "failed"})  # its job stays in Redis
    db.session.commit()
    job = Job.fetch(job_id_for(dataset_id), connection=redis_conn)
    redis_conn.zadd(job.execution_registry.key, {"expired-execution": time.time() + 60})  # its hash is gone
    response = client.post(f"/dataset/{dataset_id}/reprocess")
    assert response.status_code == 202, response.json
    run_worker()
    assert _status(client, dataset_id)["status"] == "completed"


def test_deleting_a_job_that_vanished_since_it_was_fetched(client, redis_conn):
    """A worker finishing a job deletes it (no result kept): one fetched just before is gone, not an error."""
    dataset_id = upload_orders(client, user_id="y").json["dataset_id"]
    job = Job.fetch(job_id_for(dataset_id), connection=redis_conn)
    redis_conn.delete(job.key)
    delete_job(job)
    assert not redis_conn.exists(job.key)


def test_reprocess_checks_mode_columns_and_quota(client, db):
    dataset_id = upload_orders(client, user_id="v").json["dataset_id"]
    Dataset.query.filter_by(id=dataset_id).update({"status": "failed"})
    db.session.commit()
    bad_mode = client.post(f"/dataset/{dataset_id}/reprocess", data={"mode": "turbo"})
    assert bad_mode.status_code == 400 and bad_mode.json["error"]["code"] == "invalid_mode"
    unknown = client.post(f"/dataset/{dataset_id}/reprocess", data={"target": "nope"})
    assert unknown.status_code == 422 and unknown.json["error"]["code"] == "unknown_target"
    assert client.post(f"/dataset/{dataset_id}/reprocess", data={"mode": "deep"}).status_code == 202
    Dataset.query.filter_by(id=dataset_id).update({"status": "failed"})
    db.session.commit()
    over = client.post(f"/dataset/{dataset_id}/reprocess", data={"mode": "deep"})
    assert over.status_code == 429 and over.json["error"]["code"] == "quota_exceeded"  # DEEP_QUOTA=1 per user
    assert _status(client, dataset_id)["run"] == 2  # the refused request changed nothing


def test_token_mode_only_the_owner_cancels(settings, db, tmp_path):
    token_app = create_app(make_config(settings, tmp_path, AUTH_MODE="token"))
    _, owner = create_token("owner", collaborations=["lab"])
    _, member = create_token("member", collaborations=["lab"])
    client = token_app.test_client()
    as_owner, as_member = {"Authorization": f"Bearer {owner}"}, {"Authorization": f"Bearer {member}"}
    response = upload(client, b"a,b\n1,2\n3,4\n", "t.csv", headers=as_owner, collaboration_id="lab")
    dataset_id = response.json["dataset_id"]
    assert client.post(f"/dataset/{dataset_id}/cancel", headers=as_member).status_code == 403
    assert client.get(f"/dataset/{dataset_id}/runs", headers=as_member).status_code == 200  # members see runs
    assert client.post(f"/dataset/{dataset_id}/cancel", headers=as_owner).status_code == 200


def test_the_dataset_page_cancels_and_shows_it(client):
    dataset_id = upload_orders(client, user_id="p").json["dataset_id"]
    page = client.get(f"/dataset/{dataset_id}/view?user_id=p").get_data(as_text=True)
    assert 'id="cancel"' in page
    response = client.post(f"/dataset/{dataset_id}/view/cancel?user_id=p")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/dataset/{dataset_id}/view?user_id=p")
    page = client.get(f"/dataset/{dataset_id}/view?user_id=p").get_data(as_text=True)
    assert 'id="cancelled"' in page and 'id="cancel"' not in page
    assert client.post(f"/dataset/{dataset_id}/view/cancel?user_id=p").status_code == 303  # twice: no error page
