"""Redis restarted with its data gone mid-run, and a concurrent load: every accepted dataset completes."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from harness.generate import write_csv
from harness.processes import free_port, reap, start_gunicorn, start_redis
from tests.conftest import wait_until
from tests.e2e.conftest import upload

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


@pytest.fixture()
def stack(env, tmp_path):
    """A private Redis, gunicorn and the autoscaler (which restarts workers) on the e2e database."""
    port = free_port()
    redis = start_redis(port)
    values = dict(env, REDIS_URL=f"redis://127.0.0.1:{port}/0", RECONCILE_GRACE_SECONDS="2",
                  WORKER_MAINTENANCE_INTERVAL="2", STORAGE_DIR=str(tmp_path / "storage"))
    web, base = start_gunicorn(values, "--workers", "2", "--threads", "4", "--worker-class", "gthread")
    scaler = subprocess.Popen([sys.executable, "-m", "scripts.autoscaler", "--interval", "1", "--max", "eda_fast=2",
                               "--scale-up", "4", "--scale-down", "1", "--up-cooldown", "2"], cwd=ROOT, env=values,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = {"redis": redis, "port": port, "base": base}
    yield state
    reap(scaler, grace=60)  # stops its workers first; whatever of its session is left is killed
    reap(web)
    reap(state["redis"], grace=10)


def statuses(base: str, ids: list[str]) -> list[str]:
    return [requests.get(f"{base}/dataset/{i}/status", timeout=10).json()["status"] for i in ids]


def test_redis_restarted_empty_mid_run_loses_nothing(stack, tmp_path):
    base = stack["base"]
    small, longer = write_csv(tmp_path / "s.csv", 2000, 8), write_csv(tmp_path / "l.csv", 150_000, 12)
    ids = [upload(base, longer)["dataset_id"]] + [upload(base, small)["dataset_id"] for _ in range(5)]
    wait_until(lambda: "processing" in statuses(base, ids), 60, "nothing started")

    # Redis dies and comes back with nothing: queues, jobs and workers forgotten
    reap(stack["redis"], grace=0, sig=signal.SIGKILL)
    wait_until(lambda: requests.get(f"{base}/health/redis", timeout=10).status_code != 200, 30,
               "the service did not notice that Redis was gone")
    during = upload(base, small)  # Redis down: still accepted, left for recovery
    assert during["enqueued"] is False
    ids.append(during["dataset_id"])
    stack["redis"] = start_redis(stack["port"])

    wait_until(lambda: set(statuses(base, ids)) == {"completed"}, 180,
               f"not every dataset completed after the restart: {statuses(base, ids)}")
    after = upload(base, small)["dataset_id"]
    wait_until(lambda: statuses(base, [after]) == ["completed"], 60, "uploads after the restart do not complete")


def test_fifty_concurrent_uploads_all_complete(stack):
    done = subprocess.run([sys.executable, "-m", "scripts.load_test", "--url", stack["base"], "--num", "50",
                           "--concurrent", "50", "--rows", "300", "--json", "--timeout", "240"],
                          cwd=ROOT, capture_output=True, text=True)
    report = json.loads(done.stdout)
    print("load test:", json.dumps(report))  # the figures for the notes (pytest -s shows them)
    assert done.returncode == 0 and report["ok"], report
    assert (report["accepted"], report["completed"], report["errors"], report["failed"]) == (50, 50, {}, {})
    assert report["status_latency_s"]["p95"] > 0
