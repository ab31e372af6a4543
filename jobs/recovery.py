"""Recovery: reclaim jobs abandoned by killed workers; re-enqueue datasets whose job vanished."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from redis import Redis
from redis.exceptions import LockError, RedisError
from sqlalchemy import case, update
from sqlalchemy.exc import SQLAlchemyError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.utils import parse_composite_key

from app.direct import expire_reservations
from app.extensions import db
from app.models import Dataset, Status, utcnow

from .keys import RECOVERY_LOCK_KEY
from .scaling.counters import record_outcome
from .queues import QUEUE_NAMES, dataset_id_from_job, enqueue_dataset, job_is_live

log = logging.getLogger(__name__)


def reclaim_abandoned(connection: Redis, now: float | None = None, dead_workers: Iterable[str] = ()) -> list[str]:
    """Take back started jobs whose worker stopped heartbeating or is known dead; return their dataset ids.

    RQ's own registry cleanup does this too, but spends a retry (with its backoff);
    a crash is not the job's fault, so we requeue at once and let the database's attempt
    counter stop a job that crashes its worker every time. `dead_workers` names workers a
    supervisor saw exit, so their jobs need not wait for the heartbeat to run out.
    """
    cutoff = time.time() if now is None else now
    dead = set(dead_workers)
    reclaimed = []
    for name in QUEUE_NAMES:
        registry = StartedJobRegistry(name, connection=connection)
        # Without dead workers only expired entries matter; with them, every entry's owner is checked.
        entries = (connection.zrange(registry.key, 0, -1, withscores=True) if dead else
                   connection.zrangebyscore(registry.key, 0, cutoff, withscores=True))
        for raw, score in entries:
            job_id, execution_id = parse_composite_key(raw.decode() if isinstance(raw, bytes) else raw)
            if score > cutoff and _run_by(connection, job_id, execution_id) not in dead:
                continue
            job = Job.fetch_many([job_id], connection=connection)[0]
            if connection.zrem(registry.key, raw) == 0:
                continue  # another worker's recovery pass took it first
            if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
                continue
            # Job.delete() trips over executions whose keys already expired; the job's
            # own keys are all there is to remove, and enqueue writes them afresh.
            connection.delete(job.key, job.execution_registry.key)
            dataset_id = dataset_id_from_job(job_id)
            record_outcome(connection, name, "abandoned")
            if dataset_id:
                reclaimed.append(dataset_id)
                log.warning("reclaimed abandoned job %s from %s", job_id, name)
    return reclaimed


def _run_by(connection: Redis, job_id: str, execution_id: str) -> str:
    """The worker running one started-registry entry, from its execution (not the job, which a
    retry leaves naming the previous worker until the new horse rewrites it)."""
    try:
        return Execution.fetch(execution_id, job_id, connection).worker_name
    except ValueError:  # the execution's keys expired: only the heartbeat path may take it
        return ""


def reconcile(connection: Redis, grace_seconds: int | None, force_ids: list[str] | tuple[str, ...] = ()
              ) -> list[str]:
    """Enqueue every queued or processing dataset that has no live job in Redis.

    Datasets touched within `grace_seconds` are left alone (their upload may still be
    enqueueing; None: all are), except those in `force_ids`, whose jobs we just reclaimed.
    """
    return _requeue(connection, grace_seconds, force_ids, refunded=())


def requeue_refunded(connection: Redis, force_ids: list[str]) -> list[str]:
    """`reconcile` of jobs just reclaimed from a worker that stopped: their interrupted attempt does not count
    towards MAX_ATTEMPTS (a shutdown is nobody's fault)."""
    return _requeue(connection, None, force_ids, refunded=force_ids)


def _requeue(connection: Redis, grace_seconds: int | None, force_ids, refunded) -> list[str]:
    forced = Dataset.id.in_(list(force_ids) or [""])
    if grace_seconds is not None:
        forced = forced | (Dataset.updated_at < datetime.now(timezone.utc) - timedelta(seconds=grace_seconds))
    pending = (Dataset.query
               .filter(Dataset.status.in_([Status.QUEUED.value, Status.PROCESSING.value]))
               .filter(forced)
               .order_by(Dataset.created_at)
               .all())
    seen = [(d.id, d.mode, d.run, d.updated_at) for d in pending]
    db.session.rollback()  # nothing held while we talk to Redis
    enqueued = []
    for dataset_id, mode, run, updated_at in seen:
        if dataset_id not in force_ids and job_is_live(connection, dataset_id):
            continue
        # Only if untouched since we looked: a job that just finished must not be re-queued.
        claimed = db.session.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id, Dataset.updated_at == updated_at,
                   Dataset.status.in_([Status.QUEUED.value, Status.PROCESSING.value]))
            .values(status=Status.QUEUED.value, updated_at=utcnow(),
                    progress_info="Re-queued after its job was lost (worker crash or Redis restart).",
                    **({"attempts": case((Dataset.attempts > 0, Dataset.attempts - 1), else_=0)}
                       if dataset_id in refunded else {}))
        ).rowcount
        db.session.commit()
        if claimed:
            enqueue_dataset(connection, dataset_id, mode, run=run, at_front=dataset_id in force_ids)
            enqueued.append(dataset_id)
    for dataset_id in enqueued:
        log.warning("re-enqueued dataset %s", dataset_id)
    return enqueued


def requeue_interrupted(connection: Redis, worker_name: str) -> list[str]:
    """A stopping worker puts its own job back: no lock to wait for (the registry claim is atomic),
    no retry spent, and the attempt not counted, since a shutdown is nobody's fault."""
    try:
        reclaimed = reclaim_abandoned(connection, dead_workers=[worker_name])
        enqueued = requeue_refunded(connection, reclaimed)
    except (RedisError, SQLAlchemyError) as exc:
        log.error("could not requeue the interrupted job (%s); heartbeat recovery will bring it back", exc)
        return []
    log.warning("requeued at shutdown: %s", enqueued)
    return enqueued


def recover(connection: Redis, grace_seconds: int, lock_seconds: int = 30, dead_workers: Iterable[str] = ()) -> dict:
    """One recovery pass, run by at most one process at a time across the cluster."""
    lock = connection.lock(RECOVERY_LOCK_KEY, timeout=lock_seconds, blocking=False)
    try:
        if not lock.acquire():
            return {"skipped": True, "reclaimed": [], "enqueued": []}
    except RedisError as exc:
        log.warning("recovery skipped, Redis unavailable: %s", exc)
        return {"skipped": True, "reclaimed": [], "enqueued": [], "error": str(exc)}
    try:
        reclaimed = reclaim_abandoned(connection, dead_workers=dead_workers)
        enqueued = reconcile(connection, grace_seconds, force_ids=reclaimed)
        expired = expire_reservations()
    finally:
        try:
            lock.release()  # token-checked: never releases another process's lock
        except LockError:
            log.warning("recovery pass outlived its %s s lock", lock_seconds)
    return {"skipped": False, "reclaimed": reclaimed, "enqueued": enqueued, "expired_uploads": expired}
