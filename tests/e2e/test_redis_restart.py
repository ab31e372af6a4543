"""Redis restarted with its data gone mid-run, and a concurrent load: every accepted dataset completes."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from redis import Redis

from bench.generate import write_csv
from tests.conftest import wait_until
from tests.e2e.conftest import free_port, start_gunicorn, upload

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def start_redis(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: _pings(port), 10, "private redis-server did not start")
    return proc


def _pings(port: int) -> bool:
    try:
        return Redis(port=port, socket_connect_timeout=0.5).ping()
    except Exception:  # noqa: BLE001 - not up yet, whatever the reason
        return False


@pytest.fixture()
def stack(env, tmp_path):
    """A private Redis, gunicorn and the autoscaler (which restarts workers) on the e2e database."""
    port = free_port()
    redis = start_redis(port)
    values = dict(env, REDIS_URL=f"redis://127.0.0.1:{port}/0", RECONCILE_GRACE_SECONDS="2",
                  WORKER_MAINTENANCE_INTERVAL="2", STORAGE_DIR=str(tmp_path / "storage"))
    web, base = start_gunicorn(values, "--workers", "2", "--threads", "4", "--worker-class", "gthread")
    procs = [web, subprocess.Popen([sys.executable, "scripts/autoscaler.py", "--interval", "1", "--max",
                                    "eda_fast=2", "--scale-up", "4", "--scale-down", "1", "--up-cooldown", "2"],
                                   cwd=ROOT, env=values, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    state = {"redis": redis, "port": port, "base": base}
    yield state
    for proc in reversed(procs):
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(60)
    state["redis"].kill()
    state["redis"].wait()


def statuses(base: str, ids: list[str]) -> list[str]:
    return [requests.get(f"{base}/dataset/{i}/status", timeout=10).json()["status"] for i in ids]


def test_redis_restarted_empty_mid_run_loses_nothing(stack, tmp_path):
    base = stack["base"]
    small, longer = write_csv(tmp_path / "s.csv", 2000, 8), write_csv(tmp_path / "l.csv", 150_000, 12)
    ids = [upload(base, longer)["dataset_id"]] + [upload(base, small)["dataset_id"] for _ in range(5)]
    wait_until(lambda: "processing" in statuses(base, ids), 60, "nothing started")

    stack["redis"].kill()  # Redis dies and comes back with nothing: queues, jobs and workers forgotten
    stack["redis"].wait()
    time.sleep(1)
    during = upload(base, small)  # Redis down: still accepted, left for recovery
    assert during["enqueued"] is False
    ids.append(during["dataset_id"])
    stack["redis"] = start_redis(stack["port"])

    wait_until(lambda: set(statuses(base, ids)) == {"completed"}, 180,
               f"not every dataset completed after the restart: {statuses(base, ids)}")
    after = upload(base, small)["dataset_id"]
    wait_until(lambda: statuses(base, [after]) == ["completed"], 60, "uploads after the restart do not complete")


def test_fifty_concurrent_uploads_all_complete(stack):
    done = subprocess.run([sys.executable, "scripts/load_test.py", "--url", stack["base"], "--num", "50",
                           "--concurrent", "50", "--rows", "300", "--json", "--timeout", "240"],
                          cwd=ROOT, capture_output=True, text=True)
    report = json.loads(done.stdout)
    print("load test:", json.dumps(report))  # the figures for the notes (pytest -s shows them)
    assert done.returncode == 0 and report["ok"], report
    assert (report["accepted"], report["completed"], report["errors"], report["failed"]) == (50, 50, {}, {})
    assert report["status_latency_s"]["p95"] > 0
