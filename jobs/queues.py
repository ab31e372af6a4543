"""Queue settings in one place: names, mode routing, timeouts, TTLs, retries; and enqueueing."""
from __future__ import annotations

from dataclasses import dataclass

from redis import Redis
from rq import Callback, Queue, Retry
from rq.exceptions import InvalidJobOperation
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry

from jobs.pipeline.names import MODES, Mode

FAST_QUEUE = "eda_fast"
DEEP_QUEUE = "eda_deep"
QUEUE_NAMES = (FAST_QUEUE, DEEP_QUEUE)
# Completion webhooks: every worker also listens here, after the dataset queues (deliveries are short).
WEBHOOK_QUEUE = "webhooks"
WEBHOOK_FUNC = "jobs.delivery.deliver"
WEBHOOK_RETRIES = (10, 30, 120, 600, 1800)  # seconds before each retry of a delivery that failed
JOB_FUNC = "jobs.process.process_dataset"
STOPPED_FUNC = "jobs.process.discard_stopped"  # run by the worker once a cancelled job's horse is gone


@dataclass(frozen=True)
class QueuePolicy:
    name: str
    timeout: int  # seconds a job may run before RQ kills it
    retries: int = 3
    backoff: tuple[int, ...] = (60, 120, 300)
    result_ttl: int = 0  # results live in the database, not in Redis
    failure_ttl: int = 24 * 3600  # failed jobs stay inspectable for a day


POLICIES = {
    FAST_QUEUE: QueuePolicy(FAST_QUEUE, timeout=10 * 60),
    DEEP_QUEUE: QueuePolicy(DEEP_QUEUE, timeout=30 * 60),
}
MODE_QUEUES = {Mode.FAST: FAST_QUEUE, Mode.SMART: FAST_QUEUE, Mode.DEEP: DEEP_QUEUE}

# Crashes (SIGKILL, OOM) are requeued without spending an RQ retry; this caps the total
# number of runs so a dataset that kills its worker every time ends as failed.
MAX_ATTEMPTS = 1 + POLICIES[FAST_QUEUE].retries + 2
# Retries are for transient errors (connection, storage). A job that failed on its input (unreadable,
# over a size limit, out of memory or time, its process killed) would fail the same way again: it is
# failed at once. Named, not imported, so this module stays light for the web tier and the monitor.
FINAL_FAILURES = frozenset({"LoadError", "OverLimit", "MemoryError", "JobTimeoutException", "HorseKilled",
                            "JobGaveUp", "PlanViolation", "PlanError"})
LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def queue_for_mode(mode: str) -> str:
    try:
        return MODE_QUEUES[mode]
    except KeyError:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}") from None


def raised_from(exc: BaseException | None, kinds: frozenset[str]) -> bool:
    """True when the exception, or one it was raised from or while handling, is of (a subclass of) a kind named."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if any(cls.__name__ in kinds for cls in type(exc).__mro__):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def is_final(exc: BaseException | None) -> bool:
    """True when a retry cannot fix the failure."""
    return raised_from(exc, FINAL_FAILURES)


def job_id_for(dataset_id: str) -> str:
    """One job id per dataset, so re-enqueueing replaces rather than duplicates."""
    return f"dataset-{dataset_id}"


def dataset_id_from_job(job_id: str) -> str | None:
    return job_id.removeprefix("dataset-") if job_id.startswith("dataset-") else None


def get_queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection)


def enqueue_dataset(connection: Redis, dataset_id: str, mode: str, *, run: int = 1, at_front: bool = False,
                    request_id: str | None = None) -> Job:
    """Put the dataset's job on its mode's queue; only the id travels through Redis (and, in the job's meta, the
    run it is for and the id of the request that asked for it, so the worker's log lines carry it too)."""
    policy = POLICIES[queue_for_mode(mode)]
    return get_queue(policy.name, connection).enqueue(
        JOB_FUNC, dataset_id,
        meta={"run": run, **({"request_id": request_id} if request_id else {})},
        on_stopped=Callback(STOPPED_FUNC),
        job_id=job_id_for(dataset_id),
        job_timeout=policy.timeout,
        result_ttl=policy.result_ttl,
        failure_ttl=policy.failure_ttl,
        retry=Retry(max=policy.retries, interval=list(policy.backoff)),
        description=f"clean dataset {dataset_id} ({mode})",
        at_front=at_front,
    )


def job_is_live(connection: Redis, dataset_id: str) -> bool:
    """True when Redis still holds a job that will run (or is running) for the dataset.

    A STARTED job only counts while a worker holds it in the started registry: a job
    left STARTED by a crash between two recovery steps must not block a re-run.
    """
    job = Job.fetch_many([job_id_for(dataset_id)], connection=connection)[0]
    if job is None:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED:
        entries = connection.zrange(StartedJobRegistry(job.origin, connection=connection).key, 0, -1)
        return any(e.decode().split(":", 1)[0] == job.id for e in entries)
    return status in LIVE_STATUSES


def delete_job(job: Job) -> None:
    """Job.delete() that survives an execution whose hash expired while its registry entry (which RQ keeps a
    minute longer) still lists it (RQ fetches every listed execution to delete it and raises on a missing one), and
    a job that vanished since it was fetched."""
    registry = job.execution_registry
    for execution_id in registry.get_execution_ids():
        if not job.connection.exists(Execution(execution_id, job.id, job.connection).key):
            job.connection.zrem(registry.key, execution_id)
    try:
        job.delete()
    except InvalidJobOperation:  # its hash went meanwhile (a worker finished it, keeping no result)
        if job.connection.exists(job.key):
            raise
        job.connection.delete(registry.key, job.dependents_key, job.dependencies_key)  # what delete() had left


def discard_job(connection: Redis, job_id: str) -> None:
    """Remove a job from its queue, registries and Redis, if Redis still has it."""
    job = Job.fetch_many([job_id], connection=connection)[0]
    if job is not None:
        delete_job(job)
