"""End-to-end fixtures: a migrated database, a private Redis, gunicorn and worker processes, reaped between tests."""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import psutil
import pytest
import requests
from redis import Redis
from rq import Worker

from harness.databases import migrate, scratch_database
from harness.processes import ROOT, alive, describe, free_port, kill_and_wait, marked, reap, start_gunicorn, \
    start_redis, start_worker

# In the environment of every process a module's tests start, so of their children too (RQ's horse and
# scheduler, an autoscaler's workers): how a test finds what it left running, whatever its parent.
MARK = "WRANGLER_E2E_RUN"
KEEP: set[int] = set()  # sessions that outlive a test: the module's redis-server and gunicorn


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
def redis_url():
    """A Redis for this module alone: no other module, test run or leftover worker shares its queues."""
    port = free_port()
    proc = start_redis(port)
    KEEP.add(proc.pid)
    yield f"redis://127.0.0.1:{port}/0"
    KEEP.discard(proc.pid)
    reap(proc, grace=10)


@pytest.fixture(scope="module")
def redis_conn(redis_url):
    """The suite's shared Redis db, replaced for the end-to-end tests by their module's own server."""
    return Redis.from_url(redis_url)


@pytest.fixture(scope="module")
def env(database, redis_url, tmp_path_factory):
    values = dict(os.environ, DATABASE_URL=database, REDIS_URL=redis_url,
                  STORAGE_DIR=str(tmp_path_factory.mktemp("e2e-storage")), WORKER_MONITOR_INTERVAL="1",
                  WORKER_MAINTENANCE_INTERVAL="3", RECONCILE_GRACE_SECONDS="5", PYTHONPATH=str(ROOT),
                  # Load tests upload many files as one user; fairness limits have their own tests.
                  MAX_JOBS_IN_FLIGHT="0", UPLOAD_RATE_LIMIT="off",
                  **{MARK: uuid.uuid4().hex})
    migrate(values)
    return values


@pytest.fixture(scope="module")
def server(env):
    proc, base = start_gunicorn(env, "--workers", "2")
    KEEP.add(proc.pid)
    yield base
    KEEP.discard(proc.pid)
    reap(proc)


@pytest.fixture()
def workers(env):
    """Start `python -m scripts.worker` processes; afterwards each gets a warm shutdown and is reaped with its session."""
    started: list[subprocess.Popen] = []

    def start(*extra: str, env_extra: dict | None = None, output=subprocess.DEVNULL) -> subprocess.Popen:
        proc = start_worker({**env, **(env_extra or {})}, *extra, output=output)
        started.append(proc)
        return proc
    yield start
    for proc in started:
        reap(proc, grace=30)  # SIGTERM: warm shutdown; the horse and the scheduler go with it


def strays(env: dict) -> list[psutil.Process]:
    """Live processes started, directly or not, by this module's tests, but for those kept for the module."""
    return marked(MARK, env[MARK], KEEP)


def forget_dead_workers(connection: Redis, env: dict) -> None:
    """Drop the registrations of workers that are no longer running (SIGKILL leaves them until their TTL)."""
    for worker in Worker.all(connection=connection):
        try:
            running = worker.pid and psutil.Process(worker.pid).environ().get(MARK) == env[MARK] and \
                alive(psutil.Process(worker.pid))
        except psutil.Error:
            running = False
        if not running:
            worker.register_death()


@pytest.fixture(autouse=True)
def isolated(request):
    """A test starts with nothing of an earlier test left, and what it started is reaped before the next one.

    Before the test: no process an earlier test started runs, and no worker is registered in the module's
    Redis. After it (and after its own fixtures stopped what they started): whatever still runs is killed
    and waited for, and the registrations of workers that died without deregistering are dropped.
    """
    if "env" not in request.fixturenames:
        yield
        return
    env, connection = request.getfixturevalue("env"), request.getfixturevalue("redis_conn")
    left = strays(env)
    assert not left, f"processes of an earlier test still run: {describe(left)}"
    registered = [(w.name, w.pid) for w in Worker.all(connection=connection)]
    assert not registered, f"workers of an earlier test are still registered: {registered}"
    yield
    kill_and_wait(strays(env))
    forget_dead_workers(connection, env)
