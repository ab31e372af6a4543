"""End to end: gunicorn, worker processes and curl, on a migrated database and real Redis."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import requests

from bench.generate import write_csv
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
    assert len(frame) == 990 and frame.isna().sum().sum() == 0
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


def test_check_job_status_lists_stuck_datasets(server, env, tmp_path):
    body = upload(server, write_csv(tmp_path / "wait.csv", 50, 4))  # no worker runs in this test
    script = [sys.executable, "scripts/check_job_status.py", "--json"]
    fresh = subprocess.run([*script, "--stuck-after", "3600"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert fresh.returncode == 0 and json.loads(fresh.stdout)["by_status"]["queued"] >= 1
    time.sleep(1.1)
    stuck = subprocess.run([*script, "--stuck-after", "1"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert stuck.returncode == 1
    assert body["dataset_id"] in {d["dataset_id"] for d in json.loads(stuck.stdout)["stuck"]}
    table = subprocess.run([sys.executable, "scripts/check_job_status.py", "--stuck-after", "1"], cwd=ROOT, env=env,
                           capture_output=True, text=True).stdout
    assert "queued:" in table and body["dataset_id"] in table
