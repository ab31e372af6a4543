"""End-to-end fixtures: a migrated database, gunicorn and worker processes on real Redis."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bench.util import free_port, scratch_database
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-sS", "--fail-with-body", *args], check=True, capture_output=True,
                          text=True).stdout


def upload(server: str, path: Path, **fields: str) -> dict:
    form = [arg for key, value in fields.items() for arg in ("-F", f"{key}={value}")]
    return json.loads(curl("-F", f"file=@{path}", *form, f"{server}/dataset/upload"))


def wait_for(server: str, dataset_id: str, predicate, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = requests.get(f"{server}/dataset/{dataset_id}/status", timeout=5).json()
        if predicate(status):
            return status
        time.sleep(0.05)
    pytest.fail(f"timed out; last status {status}")


@pytest.fixture(scope="module")
def database(settings, tmp_path_factory):
    """A fresh database for the processes under test, built by `flask db upgrade`."""
    url = settings["database_url"]
    with scratch_database(url if url.startswith("postgres") else None, tmp_path_factory.mktemp("e2e"),
                          "wrangler_e2e") as fresh:
        yield fresh


@pytest.fixture(scope="module")
def env(database, settings, redis_conn, tmp_path_factory):
    values = dict(os.environ, DATABASE_URL=database, REDIS_URL=settings["redis_url"],
                  STORAGE_DIR=str(tmp_path_factory.mktemp("e2e-storage")), WORKER_MONITOR_INTERVAL="1",
                  WORKER_MAINTENANCE_INTERVAL="3", RECONCILE_GRACE_SECONDS="5", PYTHONPATH=str(ROOT))
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=values, check=True,
                   capture_output=True)
    return values


def start_gunicorn(env: dict, *options: str) -> tuple[subprocess.Popen, str]:
    """gunicorn serving wsgi:app on a free port, once /health answers 200."""
    port = free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--timeout", "120", *options,
                             "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: healthy(base), 60, "gunicorn did not become healthy", every=0.1)
    return proc, base


def healthy(base: str) -> bool:
    try:
        return requests.get(base + "/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def server(env):
    proc, base = start_gunicorn(env, "--workers", "2")
    yield base
    proc.terminate()
    proc.wait(10)


@pytest.fixture()
def workers(env):
    started: list[subprocess.Popen] = []

    def start(*extra: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "scripts/worker.py", *extra], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc
    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


