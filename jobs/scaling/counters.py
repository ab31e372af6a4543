"""Job outcome counters and a duration histogram kept in Redis, shared by every worker process."""
from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError

from jobs.keys import DURATION_KEY, OUTCOME_KEY

log = logging.getLogger(__name__)
OUTCOMES = ("completed", "failed", "retried", "abandoned", "cancelled")
BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)


def record_outcome(connection: Redis, queue: str, outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}; got {outcome!r}")
    try:
        connection.hincrby(OUTCOME_KEY.format(queue=queue), outcome, 1)
    except RedisError as exc:  # a statistic must never fail the job that produced it
        log.warning("could not count a %s job: %s", outcome, exc)


def record_duration(connection: Redis, mode: str, seconds: float) -> None:
    bucket = next((str(b) for b in BUCKETS if seconds <= b), "+Inf")
    try:
        with connection.pipeline() as pipe:
            key = DURATION_KEY.format(mode=mode)
            pipe.hincrby(key, bucket, 1)
            pipe.hincrbyfloat(key, "sum", seconds)
            pipe.hincrby(key, "count", 1)
            pipe.execute()
    except RedisError as exc:
        log.warning("could not record a job duration: %s", exc)


def outcomes(connection: Redis, queue: str) -> dict[str, int]:
    raw = connection.hgetall(OUTCOME_KEY.format(queue=queue))
    found = {k.decode(): int(v) for k, v in raw.items()}
    return {outcome: found.get(outcome, 0) for outcome in OUTCOMES}


def durations(connection: Redis, mode: str) -> tuple[list[tuple[str, int]], float, int]:
    """Cumulative buckets as Prometheus wants them, the sum and the count."""
    raw = {k.decode(): v for k, v in connection.hgetall(DURATION_KEY.format(mode=mode)).items()}
    running, buckets = 0, []
    for bound in [*(str(b) for b in BUCKETS), "+Inf"]:
        running += int(raw.get(bound, 0))
        buckets.append((bound, running))
    return buckets, float(raw.get("sum", 0.0)), int(raw.get("count", 0))
