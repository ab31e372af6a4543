"""End to end: gunicorn, worker processes and curl, on a migrated database and real Redis."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import requests
from redis import Redis
from rq.job import Job, JobStatus

from harness.generate import write_csv
from harness.processes import reap, start_worker
from tests.conftest import wait_until
from tests.e2e.conftest import curl, upload, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.timeout(300)


def test_rq_info_lists_queues_and_plain_rq_worker_runs_the_job(server, env, tmp_path):
    small = write_csv(tmp_path / "small.csv", 200, 8)
    body = upload(server, small)
    info = subprocess.run([str(BIN / "rq"), "info", "--url", env["REDIS_URL"], "eda_fast", "eda_deep"],
                          capture_output=True, text=True, check=True).stdout
    assert "eda_fast" in info and "eda_deep" in info
    subprocess.run([str(BIN / "rq"), "worker", "eda_fast", "--burst", "--url", env["REDIS_URL"]], cwd=ROOT,
                   env=env, check=True, capture_output=True, timeout=120)
    status = requests.get(f"{server}/dataset/{body['dataset_id']}/status").json()
    assert status["status"] == "completed", status


def test_curl_upload_to_cleaned_download(server, workers, tmp_path):
    workers()
    data = write_csv(tmp_path / "sales.csv", 1000, 16)
    body = upload(server, data, user_id="e2e", mode="fast")
    assert (body["rows"], body["columns"], body["status"]) == (1000, 16, "queued")
    status = wait_for(server, body["dataset_id"], lambda s: s["status"] in ("completed", "failed"), 60)
    assert status["status"] == "completed" and status["database_name"] == "sales"
    out = tmp_path / "cleaned.csv"
    curl("-o", str(out), f"{server}/dataset/{body['dataset_id']}/cleaned")
    frame = pd.read_csv(out)
    entries = requests.get(f"{server}/dataset/{body['dataset_id']}/logs/cleaning").json()["entries"]
    reported = {e["column"]: e["count"] for e in entries if e["action"] in ("leave_missing", "drop_column")}
    assert len(frame) == 990 and {c: int(n) for c, n in frame.isna().sum().items() if n} == reported
    assert requests.get(f"{server}/health/workers").status_code == 200


def test_sigkilled_worker_job_runs_again(server, workers, tmp_path):
    victim = workers()
    data = write_csv(tmp_path / "large.csv", 300_000, 16)
    body = upload(server, data)
    wait_for(server, body["dataset_id"], lambda s: s["status"] == "processing", 60)
    children = psutil.Process(victim.pid).children()  # the job's horse and RQ's scheduler
    victim.send_signal(signal.SIGKILL)  # as the kernel's OOM killer or a lost machine would
    victim.wait(10)
    killed_at = time.monotonic()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert len(children) >= 1 and alive == [], "a worker's children must die with it"

    workers()  # the platform restarts the worker
    status = wait_for(server, body["dataset_id"], lambda s: s["status"] in ("completed", "failed"), 150)
    assert status["status"] == "completed" and status["attempts"] == 2, status
    assert time.monotonic() - killed_at < 120


def test_sigtermed_worker_puts_its_job_back_before_the_platform_kills_it(server, env, workers, tmp_path):
    # Heroku's model: SIGTERM to every process of the dyno, SIGKILL 30 s later.
    worker = start_worker(dict(env, WORKER_SHUTDOWN_GRACE="2"))
    try:
        body = upload(server, write_csv(tmp_path / "long.csv", 300_000, 16))
        wait_for(server, body["dataset_id"], lambda s: s["status"] == "processing", 60)
        os.killpg(worker.pid, signal.SIGTERM)
        assert worker.wait(25) == 0  # out well before the SIGKILL would come
    finally:
        reap(worker, grace=0, sig=signal.SIGKILL)  # a no-op but for the wait when it stopped by itself
    status = requests.get(f"{server}/dataset/{body['dataset_id']}/status").json()
    assert status["status"] == "queued" and "Re-queued" in status["progress_info"]
    assert status["attempts"] == 0  # a shutdown is not the job's fault: the attempt is not counted
    job = Job.fetch(body["job_id"], connection=Redis.from_url(env["REDIS_URL"]))
    assert job.get_status() == JobStatus.QUEUED and job.retries_left == 3  # no retry spent, no backoff

    workers()
    status = wait_for(server, body["dataset_id"], lambda s: s["status"] in ("completed", "failed"), 120)
    assert (status["status"], status["attempts"]) == ("completed", 1), status


def test_check_job_status_lists_stuck_datasets(server, env, tmp_path):
    body = upload(server, write_csv(tmp_path / "wait.csv", 50, 4))  # no worker runs in this test
    script = [sys.executable, "-m", "scripts.check_job_status", "--json"]
    fresh = subprocess.run([*script, "--stuck-after", "3600"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert fresh.returncode == 0 and json.loads(fresh.stdout)["by_status"]["queued"] >= 1

    def listed_as_stuck():
        done = subprocess.run([*script, "--stuck-after", "1"], cwd=ROOT, env=env, capture_output=True, text=True)
        return done if done.returncode == 1 else None
    stuck = wait_until(listed_as_stuck, 60, "the waiting dataset was never listed as stuck", every=0.5)
    assert body["dataset_id"] in {d["dataset_id"] for d in json.loads(stuck.stdout)["stuck"]}
    table = subprocess.run([sys.executable, "-m", "scripts.check_job_status", "--stuck-after", "1"], cwd=ROOT, env=env,
                           capture_output=True, text=True).stdout
    assert "queued:" in table and body["dataset_id"] in table


def test_load_test_script_reports_every_dataset(server, workers):
    workers()
    workers()
    done = subprocess.run([sys.executable, "-m", "scripts.load_test", "--url", server, "--num", "12", "--concurrent", "6",
                           "--rows", "200", "--json", "--timeout", "120"], cwd=ROOT, capture_output=True, text=True)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["ok"], report
    assert (report["accepted"], report["completed"], report["failed"], report["errors"]) == (12, 12, {}, {})
    assert report["upload_latency_s"]["count"] == 12 and report["completion_s"]["count"] == 12
    assert 0 < report["status_latency_s"]["p50"] <= report["status_latency_s"]["p95"]


def test_load_test_script_counts_refusals_as_failures(server):
    done = subprocess.run([sys.executable, "-m", "scripts.load_test", "--url", server, "--num", "3", "--concurrent", "3",
                           "--mode", "nonsense"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2  # argparse refuses the mode before anything is sent
    bad = subprocess.run([sys.executable, "-m", "scripts.load_test", "--url", server, "--num", "2", "--concurrent", "2",
                          "--rows", "0"], cwd=ROOT, capture_output=True, text=True)  # header only: 422 each
    assert bad.returncode == 1 and "upload: HTTP 422 x2" in bad.stdout


def test_check_redis_script(env):
    up = subprocess.run(["scripts/check_redis.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert up.returncode == 0 and "queue eda_fast:" in up.stdout and "used_memory_human" in up.stdout
    down = subprocess.run(["scripts/check_redis.sh", "redis://:hunter2@127.0.0.1:1/0"], cwd=ROOT, capture_output=True,
                          text=True)
    assert down.returncode == 1 and "DOWN" in down.stderr and "hunter2" not in down.stderr
