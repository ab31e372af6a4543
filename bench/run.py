"""`make bench`: upload-to-completed times, throughput, pipeline steps, a peer, enqueue cost, plots, the autoscaler."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from redis import Redis

from bench.pipeline import data_path
from harness.databases import migrate
from harness.generate import write_csv
from harness.processes import reap_all, start_gunicorn, start_worker, wait_until

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# One anonymous user uploads everything: per-user quotas would answer 429 mid-run.
NO_QUOTAS = {"MAX_JOBS_IN_FLIGHT": "0", "UPLOAD_RATE_LIMIT": "off", "USER_STORAGE_MB": "0"}


def generated(rows: int, columns: int, shape: str = "realistic") -> Path:
    return write_csv(data_path(rows, columns, shape), rows, columns, shape=shape)


class Stack:
    """gunicorn + `workers` worker processes on a scratch SQLite database and a scratch Redis db."""

    def __init__(self, redis_url: str, workers: int = 1):
        self.tmp = tempfile.TemporaryDirectory(prefix="wrangler-bench-")
        self.env = dict(os.environ, REDIS_URL=redis_url, STORAGE_DIR=self.tmp.name, PYTHONPATH=str(ROOT),
                        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{self.tmp.name}/bench.db"),
                        LOG_LEVEL="WARNING", **NO_QUOTAS)
        self.workers = workers
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "Stack":
        Redis.from_url(self.env["REDIS_URL"]).flushdb()
        migrate(self.env)
        try:
            web, self.base = start_gunicorn(self.env, "--workers", "1", "--threads", "4", "--worker-class", "gthread",
                                            timeout=300)
            self.procs.append(web)
            self.procs += [start_worker(self.env) for _ in range(self.workers)]
            # Every worker registered: a throughput run must not start with part of the pool.
            wait_until(self.pool_ready, 60, "stack did not start")
        except BaseException:
            self.__exit__()
            raise
        return self

    def pool_ready(self) -> bool:
        try:
            answer = requests.get(self.base + "/health/workers", timeout=5)
        except requests.RequestException:
            return False
        return answer.status_code == 200 and answer.json()["workers"]["workers"] >= self.workers

    def __exit__(self, *exc) -> None:
        reap_all(self.procs, grace=30)  # SIGTERM to all at once: a warm shutdown each, then their sessions killed
        self.procs.clear()
        Redis.from_url(self.env["REDIS_URL"]).flushdb()
        self.tmp.cleanup()

    def upload(self, path: Path) -> tuple[dict, float]:
        """The 202 body and the seconds from the start of the POST until it arrived."""
        t0 = time.perf_counter()
        with open(path, "rb") as fh:
            response = requests.post(self.base + "/dataset/upload", files={"file": (path.name, fh)}, timeout=600)
        if response.status_code != 202:
            raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
        return response.json(), time.perf_counter() - t0

    def wait(self, dataset_id: str) -> None:
        url = f"{self.base}/dataset/{dataset_id}/status"
        while (status := requests.get(url, timeout=10).json())["status"] not in ("completed", "failed"):
            time.sleep(0.02)
        if status["status"] != "completed":
            raise RuntimeError(status["error"])

    def upload_to_completed(self, path: Path) -> dict:
        t0 = time.perf_counter()
        body, accepted = self.upload(path)
        self.wait(body["dataset_id"])
        # Over loopback the body arrives almost at once, so upload_s is close to the server's answer time.
        return {"file_mb": round(path.stat().st_size / 2**20, 1), "upload_s": round(accepted, 3),
                "total_s": round(time.perf_counter() - t0, 3), "rows": body["rows"], "columns": body["columns"]}


def bench_uploads(redis_url: str, quick: bool) -> dict:
    small = generated(1000, 20)
    big = {shape: generated(100_000, 100, shape) for shape in ("realistic", "simple")}
    out = {}
    with Stack(redis_url) as stack:
        stack.upload_to_completed(small)  # warm-up: imports, first connections
        runs = [stack.upload_to_completed(small) for _ in range(3 if quick else 10)]
        out["realistic_1000x20"] = {"runs": len(runs), "file_mb": runs[0]["file_mb"],
                                    "median_total_s": statistics.median(r["total_s"] for r in runs),
                                    "median_upload_s": statistics.median(r["upload_s"] for r in runs)}
        for shape, path in big.items():
            out[f"{shape}_100000x100"] = stack.upload_to_completed(path)
        if not quick:
            out["realistic_1000000x20"] = stack.upload_to_completed(generated(1_000_000, 20))
    return out


def bench_throughput(redis_url: str, jobs: int = 40, pools: tuple[int, ...] = (1, 2)) -> dict:
    """Small jobs per second: all uploads sent first, timed from the first upload to the last completion."""
    small = generated(500, 10)
    out = {}
    for workers in pools:
        with Stack(redis_url, workers) as stack:
            stack.upload_to_completed(small)  # warm-up: gunicorn's imports and first connections
            started = time.perf_counter()
            ids = [stack.upload(small)[0]["dataset_id"] for _ in range(jobs)]
            uploaded = time.perf_counter() - started
            for dataset_id in ids:
                stack.wait(dataset_id)
            elapsed = time.perf_counter() - started
        out[f"workers_{workers}"] = {"jobs": jobs, "uploads_s": round(uploaded, 2), "elapsed_s": round(elapsed, 2),
                                     "jobs_per_s": round(jobs / elapsed, 2)}
    out["speedup_2_over_1"] = round(out["workers_2"]["jobs_per_s"] / out["workers_1"]["jobs_per_s"], 2)
    return out


def bench_pipeline(rows: int, columns: int, mode: str = "fast", shape: str = "realistic") -> dict:
    """Per-step time and peak memory, each size in a fresh process (see bench/pipeline.py)."""
    result = subprocess.run([sys.executable, "-m", "bench.pipeline", "--rows", str(rows), "--columns", str(columns),
                             "--mode", mode, "--shape", shape], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def bench_peer(path: Path) -> dict:
    """skrub's TableReport on the same file, timed as a whole process (start-up and imports included)."""
    started = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, "-m", "bench.peers", str(path)], cwd=ROOT, capture_output=True,
                                text=True, check=True, timeout=900)
    except subprocess.CalledProcessError as exc:
        return {"skipped": (exc.stderr.strip().splitlines() or [f"exit {exc.returncode}"])[-1]}
    except subprocess.TimeoutExpired:
        return {"skipped": "timed out after 900 s"}
    out = json.loads(result.stdout)
    if "skipped" not in out:
        out["process_s"] = round(time.perf_counter() - started, 3)
    return out


def bench_enqueue(redis_url: str, n: int, rounds: int = 5) -> dict:
    """Per-enqueue cost of our path against a bare RQ enqueue, alternating rounds after a warm-up."""
    from rq import Queue

    from jobs.queues import JOB_FUNC, enqueue_dataset
    connection = Redis.from_url(redis_url)

    def bare(i: int) -> None:
        Queue("bench_bare", connection=connection).enqueue(JOB_FUNC, f"id{i}")

    def ours(i: int) -> None:
        enqueue_dataset(connection, f"id{i}", "fast")

    timings: dict[str, list[float]] = {"bare": [], "ours": []}
    for round_ in range(rounds + 1):
        for name, call in (("bare", bare), ("ours", ours)):
            connection.flushdb()
            started = time.perf_counter()
            for i in range(n):
                call(i)
            if round_:  # round 0 warms up connections and imports
                timings[name].append((time.perf_counter() - started) / n)
    connection.flushdb()
    bare_s, ours_s = statistics.median(timings["bare"]), statistics.median(timings["ours"])
    return {"n": n, "rounds": rounds, "bare_rq_enqueue_us": round(bare_s * 1e6), "enqueue_dataset_us":
            round(ours_s * 1e6), "overhead_us": round((ours_s - bare_s) * 1e6)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    uploads = bench_uploads(redis_url, args.quick)
    peer = bench_peer(data_path(100_000, 100, "realistic"))
    headline = uploads["realistic_100000x100"]
    results = {"headline_realistic_100000x100": {
                   "upload_to_completed_s": headline["total_s"], "upload_s": headline["upload_s"],
                   "file_mb": headline["file_mb"], "skrub_s": peer.get("process_s"),
                   "wrangler_over_skrub": round(headline["total_s"] / peer["process_s"], 2) if "process_s" in peer
                   else None},
               "uploads": uploads,
               "throughput_realistic_500x10": bench_throughput(redis_url),
               "pipeline": {"realistic_100000x100_fast": bench_pipeline(100_000, 100),
                            "simple_100000x100_fast": bench_pipeline(100_000, 100, shape="simple"),
                            "realistic_100000x100_deep": bench_pipeline(100_000, 100, "deep")},
               "peer_skrub_table_report_realistic_100000x100": peer,
               "enqueue": bench_enqueue(redis_url, 300 if args.quick else 1000)}
    if not args.quick:
        results["pipeline"]["realistic_1000000x20_fast"] = bench_pipeline(1_000_000, 20)
        plots = subprocess.run([sys.executable, "-m", "bench.plots"], cwd=ROOT, capture_output=True, text=True,
                               check=True)
        results["plots"] = json.loads(plots.stdout)
    # The autoscaler against fixed pools: 200 small jobs (40 and a pool of 4 with --quick).
    burst_args = ["--jobs", "40", "--max-workers", "4"] if args.quick else []
    burst = subprocess.run([sys.executable, "-m", "bench.burst", *burst_args], cwd=ROOT, capture_output=True,
                           text=True, check=True, env=dict(os.environ, BENCH_REDIS_URL=redis_url, **NO_QUOTAS))
    results["burst"] = json.loads(burst.stdout)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
