"""End-to-end fixtures: a migrated database, gunicorn and worker processes on real Redis."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import requests

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def database(settings, tmp_path_factory):
    """A fresh database for the processes under test, built by `flask db upgrade`."""
    url = settings["database_url"]
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'e2e.db'}"
        return
    parts = urlsplit(url)
    name = f"wrangler_e2e_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="module")
def env(database, settings, redis_conn, tmp_path_factory):
    values = dict(os.environ, DATABASE_URL=database, REDIS_URL=settings["redis_url"],
                  STORAGE_DIR=str(tmp_path_factory.mktemp("e2e-storage")), WORKER_MONITOR_INTERVAL="1",
                  WORKER_MAINTENANCE_INTERVAL="3", RECONCILE_GRACE_SECONDS="5", PYTHONPATH=str(ROOT))
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=values, check=True,
                   capture_output=True)
    return values


@pytest.fixture(scope="module")
def server(env):
    port = free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                             "--timeout", "120", "wsgi:app"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(base + "/health", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not become healthy")
        yield base
    finally:
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


