"""Queue statistics from Redis: depth, oldest job's wait, busy and idle workers, completions per minute."""
from __future__ import annotations

import logging
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from jobs.clock import as_utc
from jobs.keys import COMPLETIONS_KEY

from .policy import QueueStats

log = logging.getLogger(__name__)
COMPLETIONS_TTL = 2 * 3600
RATE_WINDOW_MINUTES = 5


def record_completion(connection: Redis, queue: str, now: float | None = None) -> None:
    """Count a finished job in its minute's bucket; RQ keeps no results (TTL 0) to count later."""
    minute = int((now or time.time()) // 60)
    key = COMPLETIONS_KEY.format(queue=queue, minute=minute)
    try:
        with connection.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, COMPLETIONS_TTL)
            pipe.execute()
    except RedisError as exc:  # a statistic must never fail the job that produced it
        log.warning("could not record a completion: %s", exc)


def completions_per_minute(connection: Redis, queue: str, now: float | None = None,
                           minutes: int = RATE_WINDOW_MINUTES) -> float:
    """Mean completions per minute over the last `minutes` whole minutes."""
    current = int((now or time.time()) // 60)
    keys = [COMPLETIONS_KEY.format(queue=queue, minute=m) for m in range(current - minutes, current)]
    return sum(int(v) for v in connection.mget(keys) if v is not None) / minutes


def oldest_age(queue: Queue, now: float) -> float:
    """Seconds the job at the head of the queue has waited (0 when the queue is empty)."""
    ids = queue.get_job_ids(0, 1)
    job = Job.fetch_many(ids, connection=queue.connection)[0] if ids else None
    if job is None or job.enqueued_at is None:
        return 0.0
    return max(0.0, now - as_utc(job.enqueued_at).timestamp())


def queue_stats(connection: Redis, name: str, now: float | None = None,
                states: dict[str, str] | None = None) -> QueueStats:
    """`states` (worker -> 'busy', 'idle', 'starting') replaces RQ's view of all the queue's workers,
    for a backend that counts only its own."""
    now = time.time() if now is None else now
    queue = Queue(name, connection=connection)
    if states is None:
        states = {w.name: w.get_state() for w in Worker.all(queue=queue)}
    busy = sum(state == "busy" for state in states.values())
    # A retry whose backoff is over waits for a scheduler, and only a worker of this queue runs
    # one: count it as waiting, or a queue scaled to zero would never run its retries.
    due = len(ScheduledJobRegistry(name, connection=connection).get_jobs_to_schedule(int(now)))
    return QueueStats(queue=name, depth=queue.count + due, oldest_age=round(oldest_age(queue, now), 1), busy=busy,
                      idle=len(states) - busy, completed_per_minute=completions_per_minute(connection, name, now))
