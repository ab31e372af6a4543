"""The database is the source of truth: uploads survive Redis outages and lost jobs."""
from __future__ import annotations

import time

from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from app import create_app
from app.models import Dataset
from jobs.queues import job_id_for
from jobs.recovery import reclaim_abandoned, recover
from tests.conftest import make_config, upload

CSV = b"a,b\n1,x\n,y\n3,\n"


def test_upload_accepted_while_redis_is_down(app, db, settings, tmp_path, redis_conn, run_worker):
    down = create_app(make_config(settings, app.config["STORAGE_DIR"], REDIS_URL="redis://127.0.0.1:1/0"))
    response = upload(down.test_client(), CSV)
    assert response.status_code == 202 and response.json["enqueued"] is False
    dataset_id = response.json["dataset_id"]
    assert db.session.get(Dataset, dataset_id).status == "queued"
    assert down.test_client().get("/health/redis").status_code == 503

    outcome = recover(redis_conn, grace_seconds=0)  # Redis is back: the recovery pass finds it
    assert outcome["enqueued"] == [dataset_id]
    assert recover(redis_conn, grace_seconds=0)["enqueued"] == []  # its job is live now
    run_worker()
    db.session.expire_all()
    assert db.session.get(Dataset, dataset_id).status == "completed"


def test_grace_period_protects_in_flight_uploads(client, db, redis_conn):
    body = upload(client, CSV).json
    Job.fetch(body["job_id"], connection=redis_conn).delete()
    assert recover(redis_conn, grace_seconds=3600)["enqueued"] == []
    assert recover(redis_conn, grace_seconds=0)["enqueued"] == [body["dataset_id"]]


def test_reconcile_cli(app, client, db, redis_conn):
    body = upload(client, CSV).json
    redis_conn.flushdb()  # Redis restarted and lost everything
    result = app.test_cli_runner().invoke(args=["reconcile", "--grace", "0"])
    assert result.exit_code == 0 and body["dataset_id"] in result.output
    assert Job.fetch(body["job_id"], connection=redis_conn).get_status() == JobStatus.QUEUED


def started_job(client, db, redis_conn, heartbeat_until: float, worker_name: str = "w") -> tuple[str, str]:
    """What a worker leaves behind when it dies mid-job: the job STARTED, the dataset processing."""
    body = upload(client, CSV).json
    job = Job.fetch(body["job_id"], connection=redis_conn)
    registry = StartedJobRegistry("eda_fast", connection=redis_conn)
    redis_conn.lrem("rq:queue:eda_fast", 0, job.id)
    job.set_status(JobStatus.STARTED)
    with redis_conn.pipeline() as pipe:  # what the worker's parent records as the horse starts
        execution = Execution.create(job, ttl=120, pipeline=pipe, worker_name=worker_name)
        pipe.execute()
    redis_conn.zadd(registry.key, {execution.composite_key: heartbeat_until})
    db.session.get(Dataset, body["dataset_id"]).status = "processing"
    db.session.commit()
    return body["dataset_id"], registry.key


def assert_requeued_without_a_retry(outcome: dict, dataset_id: str, redis_conn) -> None:
    assert outcome["reclaimed"] == [dataset_id] and outcome["enqueued"] == [dataset_id]
    requeued = Job.fetch(job_id_for(dataset_id), connection=redis_conn)
    assert requeued.get_status() == JobStatus.QUEUED and requeued.retries_left == 3


def test_abandoned_started_job_is_reclaimed_without_spending_a_retry(client, db, redis_conn):
    dataset_id, registry = started_job(client, db, redis_conn, heartbeat_until=time.time() - 5)
    assert reclaim_abandoned(redis_conn, now=time.time() - 10) == []  # not expired yet at that time
    assert_requeued_without_a_retry(recover(redis_conn, grace_seconds=3600), dataset_id, redis_conn)
    assert redis_conn.zcard(registry) == 0


def test_job_of_a_worker_seen_dead_is_reclaimed_before_its_heartbeat_expires(client, db, redis_conn):
    dataset_id, registry = started_job(client, db, redis_conn, heartbeat_until=time.time() + 60,
                                       worker_name="auto-eda_fast-dead")
    job = Job.fetch(job_id_for(dataset_id), connection=redis_conn)
    job.worker_name = "auto-eda_fast-other"  # as a retry leaves it: the previous attempt's worker
    job.save()
    assert recover(redis_conn, grace_seconds=3600, dead_workers=["auto-eda_fast-other"])["reclaimed"] == []
    assert redis_conn.zcard(registry) == 1  # a live worker's job is left alone
    outcome = recover(redis_conn, grace_seconds=3600, dead_workers=["auto-eda_fast-dead"])
    assert_requeued_without_a_retry(outcome, dataset_id, redis_conn)


def test_recovery_lock_allows_one_pass_at_a_time(db, redis_conn):
    other = redis_conn.lock("wrangler:recovery-lock", timeout=30)
    assert other.acquire(blocking=False)
    assert recover(redis_conn, grace_seconds=0)["skipped"] is True
    assert redis_conn.get("wrangler:recovery-lock") == other.local.token  # ours was left alone
    other.release()
    assert recover(redis_conn, grace_seconds=0)["skipped"] is False


def test_a_dataset_that_finished_meanwhile_is_not_requeued(client, db, redis_conn, monkeypatch):
    import jobs.recovery as recovery
    body = upload(client, CSV).json
    Job.fetch(body["job_id"], connection=redis_conn).delete()

    def finishes_meanwhile(connection, dataset_id):  # the worker completes between look and claim
        dataset = db.session.get(Dataset, dataset_id)
        dataset.status = "completed"
        db.session.commit()
        return False

    monkeypatch.setattr(recovery, "job_is_live", finishes_meanwhile)
    assert recover(redis_conn, grace_seconds=0)["enqueued"] == []
    db.session.expire_all()
    assert db.session.get(Dataset, body["dataset_id"]).status == "completed"



def test_started_job_without_a_worker_entry_is_not_live(client, db, redis_conn):
    body = upload(client, CSV).json
    redis_conn.lrem("rq:queue:eda_fast", 0, body["job_id"])
    Job.fetch(body["job_id"], connection=redis_conn).set_status(JobStatus.STARTED)  # holder crashed
    assert recover(redis_conn, grace_seconds=0)["enqueued"] == [body["dataset_id"]]
