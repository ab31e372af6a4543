"""A snapshot of queues, workers, the autoscaler's last decision and Redis itself, as plain data."""
from __future__ import annotations

import json
import time

from redis import Redis
from rq import Queue
from rq.registry import DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from jobs.keys import DECISION_KEY
from jobs.queues import QUEUE_NAMES

from .policy import DEFAULT_POLICIES
from .stats import queue_stats



def queue_snapshot(connection: Redis, name: str, now: float) -> dict:
    queue = Queue(name, connection=connection)
    stats = queue_stats(connection, name, now)
    policy = DEFAULT_POLICIES[name]
    return {
        "queue": name, "queued": stats.depth, "started": StartedJobRegistry(queue=queue).count,
        "failed": FailedJobRegistry(queue=queue).count, "deferred": DeferredJobRegistry(queue=queue).count,
        "scheduled": ScheduledJobRegistry(queue=queue).count, "oldest_age_s": stats.oldest_age,
        "completed_per_minute": round(stats.completed_per_minute, 2),
        "workers": {"busy": stats.busy, "idle": stats.idle, "min": policy.min_workers, "max": policy.max_workers},
    }


def redis_snapshot(connection: Redis) -> dict:
    info = connection.info()
    hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
    return {"version": info.get("redis_version"), "used_memory": info.get("used_memory"),
            "used_memory_human": info.get("used_memory_human"), "clients": info.get("connected_clients"),
            "ops_per_second": info.get("instantaneous_ops_per_sec"),
            "hit_rate": round(hits / (hits + misses), 4) if hits + misses else None}


def last_decision(connection: Redis) -> dict | None:
    """The autoscaler's latest published decisions, or None when none is fresh."""
    raw = connection.get(DECISION_KEY)
    return json.loads(raw) if raw else None


def snapshot(connection: Redis, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    return {"at": now, "queues": [queue_snapshot(connection, name, now) for name in QUEUE_NAMES],
            "autoscaler": last_decision(connection), "redis": redis_snapshot(connection)}


def render(data: dict) -> str:
    """A fixed-width table for a terminal."""
    head = f"{'queue':<10}{'queued':>8}{'started':>9}{'failed':>8}{'sched':>7}{'defer':>7}{'oldest s':>10}" \
           f"{'done/min':>10}  workers busy/idle (min..max)"
    lines = [head, "-" * len(head)]
    for q in data["queues"]:
        w = q["workers"]
        lines.append(f"{q['queue']:<10}{q['queued']:>8}{q['started']:>9}{q['failed']:>8}{q['scheduled']:>7}"
                     f"{q['deferred']:>7}{q['oldest_age_s']:>10.0f}{q['completed_per_minute']:>10.1f}  "
                     f"{w['busy']}/{w['idle']} ({w['min']}..{w['max']})")
    r = data["redis"]
    hit = "n/a" if r["hit_rate"] is None else f"{r['hit_rate']:.1%}"
    lines.append(f"redis {r['version']}: {r['used_memory_human']} used, {r['clients']} clients, "
                 f"{r['ops_per_second']} ops/s, hit rate {hit}")
    decision = data["autoscaler"]
    lines.append("autoscaler: " + (json.dumps(decision) if decision else "no decision published yet"))
    return "\n".join(lines)
