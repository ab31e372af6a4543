"""Queue statistics against real Redis and real (in-process) RQ workers."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

from rq import Queue, SimpleWorker

from jobs.queues import enqueue_dataset
from jobs.scaling.stats import completions_per_minute, queue_stats, record_completion


def test_depth_and_oldest_age(db, redis_conn):
    assert queue_stats(redis_conn, "eda_fast").depth == 0
    enqueue_dataset(redis_conn, "a", "fast")
    enqueue_dataset(redis_conn, "b", "fast")
    enqueue_dataset(redis_conn, "c", "deep")
    stats = queue_stats(redis_conn, "eda_fast", now=time.time() + 90)
    assert (stats.depth, stats.busy, stats.idle) == (2, 0, 0)
    assert 89 <= stats.oldest_age <= 92
    assert queue_stats(redis_conn, "eda_deep").depth == 1


def test_retries_due_count_as_waiting(db, redis_conn):
    from datetime import datetime, timedelta, timezone

    from rq.registry import ScheduledJobRegistry
    queue = Queue("eda_deep", connection=redis_conn)
    registry = ScheduledJobRegistry("eda_deep", connection=redis_conn)
    now = datetime.now(timezone.utc)
    registry.schedule(queue.enqueue("jobs.process.process_dataset", "due"), now - timedelta(seconds=5))
    registry.schedule(queue.enqueue("jobs.process.process_dataset", "later"), now + timedelta(minutes=5))
    redis_conn.delete(queue.key)  # both now wait only in the scheduled registry, as RQ's retries do
    assert queue_stats(redis_conn, "eda_deep").depth == 1  # with no deep worker, no scheduler would move it


def test_idle_workers_are_counted(db, redis_conn):
    worker = SimpleWorker([Queue("eda_fast", connection=redis_conn)], connection=redis_conn)
    worker.register_birth()
    worker.set_state("idle")
    try:
        stats = queue_stats(redis_conn, "eda_fast")
        assert (stats.busy, stats.idle, stats.workers) == (0, 1, 1)
        assert queue_stats(redis_conn, "eda_deep").workers == 0
    finally:
        worker.register_death()


def test_completions_per_minute_from_real_jobs(client, run_worker, redis_conn):
    for _ in range(3):
        client.post("/dataset/upload", data={"file": (io.BytesIO(b"a,b\n1,2\n,3\n"), "d.csv")},
                    content_type="multipart/form-data")
    run_worker()
    later = time.time() + 60  # the minute just finished is inside the window
    assert completions_per_minute(redis_conn, "eda_fast", now=later) == 3 / 5
    record_completion(redis_conn, "eda_deep", now=later - 600)  # outside the 5-minute window
    assert completions_per_minute(redis_conn, "eda_deep", now=later) == 0


def test_monitor_json_and_table(db, redis_conn, settings):
    enqueue_dataset(redis_conn, "m1", "deep")
    monitor, root = [sys.executable, "-m", "scripts.monitor_redis", "--url", settings["redis_url"]], \
        Path(__file__).resolve().parents[2]
    out = subprocess.run([*monitor, "--json"], cwd=root, capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    deep = next(q for q in data["queues"] if q["queue"] == "eda_deep")
    assert deep["queued"] == 1 and deep["workers"] == {"busy": 0, "idle": 0, "min": 0, "max": 5}
    assert data["redis"]["used_memory"] > 0 and data["autoscaler"] is None
    table = subprocess.run(monitor, cwd=root, capture_output=True, text=True, check=True).stdout
    assert "eda_deep" in table and "(0..5)" in table and "no decision published yet" in table
