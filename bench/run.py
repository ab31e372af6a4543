"""`make bench`: upload-to-completed times, pipeline steps, enqueue cost, plots, and the autoscaler under a burst."""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from redis import Redis

from bench.generate import write_csv
from bench.util import free_port

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent


class Stack:
    """gunicorn + one worker on a scratch SQLite database and a scratch Redis db."""

    def __init__(self, redis_url: str):
        self.tmp = tempfile.TemporaryDirectory(prefix="wrangler-bench-")
        self.env = dict(os.environ, REDIS_URL=redis_url, STORAGE_DIR=self.tmp.name, PYTHONPATH=str(ROOT),
                        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{self.tmp.name}/bench.db"),
                        LOG_LEVEL="WARNING")
        self.base = f"http://127.0.0.1:{free_port()}"
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "Stack":
        Redis.from_url(self.env["REDIS_URL"]).flushdb()
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True)
        port = self.base.rsplit(":", 1)[1]
        for cmd in ([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
                     "--worker-class", "gthread", "--timeout", "300", "wsgi:app"],
                    [sys.executable, "scripts/worker.py"]):
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/health/workers", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("stack did not start")

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(30)
        Redis.from_url(self.env["REDIS_URL"]).flushdb()
        self.tmp.cleanup()

    def upload_to_completed(self, path: Path) -> dict:
        t0 = time.perf_counter()
        with open(path, "rb") as fh:
            body = requests.post(self.base + "/dataset/upload", files={"file": (path.name, fh)}, timeout=600).json()
        accepted = time.perf_counter() - t0
        url = f"{self.base}/dataset/{body['dataset_id']}/status"
        while True:
            status = requests.get(url, timeout=10).json()
            if status["status"] in ("completed", "failed"):
                break
            time.sleep(0.02)
        total = time.perf_counter() - t0
        if status["status"] != "completed":
            raise RuntimeError(status["error"])
        return {"upload_s": round(accepted, 3), "total_s": round(total, 3), "rows": body["rows"],
                "columns": body["columns"]}


def bench_uploads(redis_url: str, quick: bool) -> dict:
    small = write_csv(DATA / "messy_1000x20.csv", 1000, 20)
    big = write_csv(DATA / "messy_100000x100.csv", 100_000, 100)
    out = {}
    with Stack(redis_url) as stack:
        stack.upload_to_completed(small)  # warm-up: imports, first connections
        runs = [stack.upload_to_completed(small) for _ in range(3 if quick else 10)]
        out["1000x20"] = {"runs": len(runs), "median_total_s": statistics.median(r["total_s"] for r in runs),
                          "median_upload_s": statistics.median(r["upload_s"] for r in runs)}
        out["100000x100"] = stack.upload_to_completed(big)
    return out


def bench_pipeline(rows: int, columns: int, mode: str = "fast") -> dict:
    """Per-step time and peak memory, each size in a fresh process (see bench/pipeline.py)."""
    result = subprocess.run([sys.executable, "-m", "bench.pipeline", "--rows", str(rows), "--columns", str(columns),
                             "--mode", mode], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


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
    results = {"uploads": bench_uploads(redis_url, args.quick),
               "pipeline_100000x100": bench_pipeline(100_000, 100),
               "pipeline_100000x100_deep_no_key": bench_pipeline(100_000, 100, "deep"),
               "enqueue": bench_enqueue(redis_url, 300 if args.quick else 1000)}
    if not args.quick:
        results["pipeline_1000000x20"] = bench_pipeline(1_000_000, 20)
        plots = subprocess.run([sys.executable, "-m", "bench.plots"], cwd=ROOT, capture_output=True, text=True,
                               check=True)
        results["plots"] = json.loads(plots.stdout)
    # The autoscaler against fixed pools: 200 small jobs (40 and a pool of 4 with --quick).
    burst_args = ["--jobs", "40", "--max-workers", "4"] if args.quick else []
    burst = subprocess.run([sys.executable, "-m", "bench.burst", *burst_args], cwd=ROOT, capture_output=True,
                           text=True, check=True, env=dict(os.environ, BENCH_REDIS_URL=redis_url))
    results["burst"] = json.loads(burst.stdout)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
