"""Burst benchmark: small jobs drained by one worker, a fixed pool at max size and the autoscaler; crash recovery."""
from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from redis import Redis
from rq import Worker

from harness.databases import migrate, scratch_database
from harness.generate import write_csv
from harness.processes import reap_all, start_worker, wait_until

ROOT = Path(__file__).resolve().parent.parent
HOLD = "bench:hold"


def any_database():
    """PostgreSQL when one answers (20 workers write at once), else SQLite."""
    import psycopg2
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.OperationalError:
        url = None
    return scratch_database(url, tempfile.mkdtemp(prefix="wrangler-burst-db-"), "wrangler_burst")


class Bench:
    def __init__(self, redis_url: str, database_url: str, storage: str):
        self.env = dict(os.environ, REDIS_URL=redis_url, DATABASE_URL=database_url, STORAGE_DIR=storage,
                        LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        self.redis = Redis.from_url(redis_url)
        migrate(self.env)
        from app import create_app
        from app.config import Config, normalize_database_url
        self.app = create_app(Config().override(SQLALCHEMY_DATABASE_URI=normalize_database_url(database_url), REDIS_URL=redis_url,
                                                STORAGE_DIR=storage, LOG_LEVEL="WARNING"))
        self.client = self.app.test_client()

    def upload(self, path: Path, n: int) -> list[str]:
        data = path.read_bytes()
        return [self.client.post("/dataset/upload", data={"file": (io.BytesIO(data), path.name)},
                                 content_type="multipart/form-data").json["dataset_id"] for _ in range(n)]

    def hold(self, path: Path, n: int) -> list[str]:
        """Upload n datasets, then take their jobs off the queue so the burst can land all at once."""
        self.redis.delete(HOLD)
        ids = self.upload(path, n)
        self.redis.rename("rq:queue:eda_fast", HOLD)
        return ids

    def release(self) -> float:
        job_ids = self.redis.lrange(HOLD, 0, -1)
        self.redis.delete(HOLD)
        started = time.monotonic()
        self.redis.rpush("rq:queue:eda_fast", *job_ids)  # one command: every worker wakes to a full queue
        return started

    def completed(self, ids: list[str]) -> int:
        from sqlalchemy import func

        from app.extensions import db
        from app.models import Dataset
        with self.app.app_context():
            rows = dict(db.session.query(Dataset.status, func.count()).filter(Dataset.id.in_(ids))
                        .group_by(Dataset.status).all())
            db.session.remove()
        if rows.get("failed"):
            raise RuntimeError(f"{rows['failed']} dataset(s) failed during the burst")
        return rows.get("completed", 0)

    def workers(self, prefix: str = "") -> list[Worker]:
        return [w for w in Worker.all(connection=self.redis) if w.name.startswith(prefix)]

    def status(self, dataset_id: str) -> dict:
        return self.client.get(f"/dataset/{dataset_id}/status").json


def start_workers(bench: Bench, n: int) -> list[subprocess.Popen]:
    procs = [start_worker(bench.env, "--queue", "eda_fast", "--name", f"fixed-{i}-{uuid.uuid4().hex[:6]}")
             for i in range(n)]
    try:
        wait_until(lambda: len(bench.workers("fixed-")) == n, 300, f"{n} fixed workers did not start")
    except BaseException:
        stop(procs)
        raise
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to every worker at once (a warm shutdown), two minutes for them all, then their sessions killed."""
    reap_all(procs, grace=120)


def drain(bench: Bench, ids: list[str], count_workers, timeout: float = 1800) -> dict:
    """Release the held burst; sample finished datasets and live worker processes until all are done."""
    started = last = bench.release()
    worker_seconds, peak, first_extra = 0.0, 0, None
    initial = count_workers()
    while True:
        time.sleep(0.25)
        now = time.monotonic()
        alive = count_workers()
        worker_seconds += alive * (now - last)
        last, peak = now, max(peak, alive)
        if first_extra is None and alive > initial:
            first_extra = now - started
        if bench.completed(ids) == len(ids):
            break
        if now - started > timeout:
            raise RuntimeError("burst not drained in time")
    elapsed = time.monotonic() - started
    return {"jobs": len(ids), "drain_s": round(elapsed, 2), "worker_seconds": round(worker_seconds, 1),
            "peak_workers": peak, "first_extra_worker_s": None if first_extra is None else round(first_extra, 2)}


def fixed_pool(bench: Bench, small: Path, jobs: int, size: int) -> dict:
    ids = bench.hold(small, jobs)
    procs = start_workers(bench, size)
    try:
        return drain(bench, ids, lambda: size)
    finally:
        stop(procs)


def autoscaled(bench: Bench, small: Path, jobs: int, max_workers: int, big: Path) -> dict:
    ids = bench.hold(small, jobs)
    scaler = subprocess.Popen([sys.executable, "-m", "scripts.autoscaler", "--max", f"eda_fast={max_workers}",
                               "--max", "eda_deep=0"], cwd=ROOT, env=bench.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: bench.workers("auto-eda_fast-"), 120, "the autoscaler's first worker did not start")
        me = psutil.Process(scaler.pid)
        result = drain(bench, ids, lambda: len(me.children()))
        result["recovery"] = kill_and_rerun(bench, big)
        return result
    finally:
        scaler.send_signal(signal.SIGTERM)
        scaler.wait(300)


def kill_and_rerun(bench: Bench, big: Path) -> dict:
    """SIGKILL the worker running a longer job; seconds until the job runs again and until it completes."""
    (dataset_id,) = bench.upload(big, 1)
    wait_until(lambda: bench.status(dataset_id)["status"] == "processing", 120, "the long job did not start")
    busy = wait_until(lambda: [w for w in bench.workers("auto-eda_fast-") if w.get_state() == "busy"], 30, "no busy worker")
    os.kill(busy[0].pid, signal.SIGKILL)
    killed = time.monotonic()
    status = wait_until(lambda: (s := bench.status(dataset_id))["attempts"] >= 2 and s["status"] == "processing" and s,
                  300, "the killed job did not run again", every=0.05)
    again = time.monotonic() - killed
    status = wait_until(lambda: (s := bench.status(dataset_id))["status"] in ("completed", "failed") and s, 600,
                  "the re-run did not finish")
    return {"killed_to_running_again_s": round(again, 2), "killed_to_completed_s": round(time.monotonic() - killed, 2),
            "final_status": status["status"], "attempts": status["attempts"]}


def run(redis_url: str, jobs: int, max_workers: int, data: Path) -> dict:
    small = write_csv(data / "burst_500x10.csv", 500, 10)
    big = write_csv(data / "burst_200000x20.csv", 200_000, 20)
    Redis.from_url(redis_url).flushdb()
    with any_database() as database, \
            tempfile.TemporaryDirectory(prefix="wrangler-burst-") as storage:
        bench = Bench(redis_url, database, storage)
        try:
            single = fixed_pool(bench, small, jobs, 1)
            pool = fixed_pool(bench, small, jobs, max_workers)
            auto = autoscaled(bench, small, jobs, max_workers, big)
        finally:
            Redis.from_url(redis_url).flushdb()
            from app.extensions import db
            with bench.app.app_context():
                db.engine.dispose()
    return {"single_worker": single, "fixed_max_pool": pool, "autoscaler": auto,
            "autoscaler_vs_pool": {"drain_ratio": round(auto["drain_s"] / pool["drain_s"], 3),
                                   "worker_seconds_ratio": round(auto["worker_seconds"] / pool["worker_seconds"], 3),
                                   "goal": "drain <= 1.25 x pool, worker-seconds < 0.75 x pool"}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--max-workers", type=int, default=20)
    args = parser.parse_args()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    data = ROOT / "bench" / "data"
    data.mkdir(parents=True, exist_ok=True)
    print(json.dumps(run(redis_url, args.jobs, args.max_workers, data), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
