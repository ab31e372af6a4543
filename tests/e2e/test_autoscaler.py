"""The autoscaler with real worker processes: grows under a burst, drains, shrinks, stops cleanly."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests
from redis import Redis
from rq import Worker

from harness.generate import write_csv
from jobs.queues import get_queue
from jobs.scaling.local import LocalBackend
from jobs.keys import DECISION_KEY
from rq.job import Job, JobStatus
from rq.suspension import resume, suspend
from tests.conftest import wait_until
from tests.e2e.conftest import upload, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def ours(connection, queue: str) -> list[Worker]:
    return [w for w in Worker.all(connection=connection) if w.name.startswith(f"auto-{queue}-")]


def test_burst_grows_drains_shrinks_replaces_crashes_and_stops_cleanly(server, env, tmp_path):
    connection = Redis.from_url(env["REDIS_URL"])
    scaler = subprocess.Popen(
        [sys.executable, "-m", "scripts.autoscaler", "--interval", "0.5", "--scale-up", "3", "--scale-down", "1",
         "--up-cooldown", "0", "--down-cooldown", "2", "--max", "eda_fast=3", "--max", "eda_deep=1",
         "--stop-deadline", "20"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(ours(connection, "eda_fast")) == 1, 60, "the minimum worker never started")
        assert ours(connection, "eda_deep") == []  # deep's minimum is zero: idle costs nothing
        decision = json.loads(connection.get(DECISION_KEY))
        assert {d["queue"] for d in decision["decisions"]} == {"eda_fast", "eda_deep"}

        csv = tmp_path / "small.csv"
        csv.write_text("a,b\n" + "\n".join(f"{i},{i % 7 or ''}" for i in range(2000)) + "\n")
        ids = []
        # Suspended (`rq suspend`), the workers take nothing, so the burst cannot drain before the pool has
        # grown however slowly new workers start on a busy machine; the autoscaler still sees the backlog.
        suspend(connection)
        try:
            for _ in range(14):
                with open(csv, "rb") as fh:
                    ids.append(requests.post(server + "/dataset/upload", files={"file": ("small.csv", fh)}).json()
                               ["dataset_id"])
            wait_until(lambda: len(ours(connection, "eda_fast")) == 3, 90, "the pool did not grow under the burst")
        finally:
            resume(connection)

        def all_done():
            return all(requests.get(f"{server}/dataset/{i}/status").json()["status"] == "completed" for i in ids)
        wait_until(all_done, 120, "the burst was not drained")
        wait_until(lambda: len(ours(connection, "eda_fast")) == 1, 90, "the pool did not shrink back to min")

        remaining = ours(connection, "eda_fast")
        survivor = psutil.Process(remaining[0].pid)
        assert survivor.ppid() == scaler.pid
        survivor.kill()  # a crash: the autoscaler must notice and start a replacement
        dead = {w.name for w in remaining}
        wait_until(lambda: {w.name for w in ours(connection, "eda_fast")} - dead, 60, "no replacement started")
        children = psutil.Process(scaler.pid).children(recursive=True)
        assert children and survivor.pid not in {c.pid for c in children}
    finally:
        scaler.send_signal(signal.SIGTERM)
        scaler.wait(60)
    _gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], "SIGTERM to the autoscaler must leave no worker behind"
    assert ours(connection, "eda_fast") == [], "nor a worker registered in Redis (one stopped while starting)"


def busy_and_idle(backend: LocalBackend) -> tuple[list[str], list[str]]:
    states = backend.states("eda_fast")
    return [n for n, s in states.items() if s == "busy"], [n for n, s in states.items() if s == "idle"]


def test_scale_down_never_stops_a_busy_worker(env):
    connection = Redis.from_url(env["REDIS_URL"])
    backend = LocalBackend(connection, stop_deadline=300, env=env)
    backend.start("eda_fast", 2)
    release = "test:autoscaler:release"
    try:
        wait_until(lambda: list(backend.states("eda_fast").values()) == ["idle", "idle"], 60,
                   "the two workers never became idle")
        # A job held busy until released: a real dataset job may finish before the check on a fast machine.
        job = get_queue("eda_fast", connection).enqueue("tests.fakes.jobs.hold", release, job_timeout=300)
        busy, idle = wait_until(lambda: busy_and_idle(backend)[0] and busy_and_idle(backend), 60, "no worker busy")

        assert backend.stop_idle("eda_fast", 2) == idle  # asked for two, only the idle one goes
        wait_until(lambda: idle[0] in backend.reap(), 30, "the idle worker did not stop")
        assert job.get_status() == JobStatus.STARTED
        connection.set(release, 1)
        wait_until(lambda: job.get_status() == JobStatus.FINISHED, 60, "the held job did not finish")
        assert job.return_value() == "released" and job.retries_left is None  # never interrupted
        assert [w.name for w in backend.workers] == busy
    finally:
        connection.delete(release)
        backend.stop_all(deadline=30)


def test_worker_past_the_stop_deadline_is_killed_and_its_job_requeued_without_a_retry(server, env, workers,
                                                                                    tmp_path):
    connection = Redis.from_url(env["REDIS_URL"])
    scaler = subprocess.Popen(
        [sys.executable, "-m", "scripts.autoscaler", "--interval", "0.5", "--min", "eda_fast=1", "--max", "eda_fast=1",
         "--stop-deadline", "1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(ours(connection, "eda_fast")) == 1, 60, "the worker never started")
        body = upload(server, write_csv(tmp_path / "long.csv", 300_000, 16))
        wait_for(server, body["dataset_id"], lambda s: s["status"] == "processing", 60)
        (worker,) = [w for w in ours(connection, "eda_fast") if w.get_state() == "busy"]
    finally:
        scaler.send_signal(signal.SIGTERM)  # warm shutdown; the job needs longer than the 1 s deadline
        assert scaler.wait(60) == 0
    assert not psutil.pid_exists(worker.pid) or psutil.Process(worker.pid).status() == psutil.STATUS_ZOMBIE
    job = Job.fetch(body["job_id"], connection=connection)
    assert job.get_status() == JobStatus.QUEUED and job.retries_left == 3  # back at once, no retry spent
    assert worker.name not in {w.name for w in ours(connection, "eda_fast")}  # its registration is gone too

    workers()
    status = wait_for(server, body["dataset_id"], lambda s: s["status"] in ("completed", "failed"), 120)
    assert (status["status"], status["attempts"]) == ("completed", 2), status


def test_dry_run_once_prints_one_decision_line_and_starts_nothing(env, redis_conn):
    from jobs.queues import enqueue_dataset
    for n in range(4):
        enqueue_dataset(redis_conn, f"dry-{n}", "deep")
    try:
        done = subprocess.run([sys.executable, "-m", "scripts.autoscaler", "--once", "--dry-run", "--scale-up", "2",
                               "--scale-down", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        (line,) = done.stdout.splitlines()
        deep = next(d for d in json.loads(line)["decisions"] if d["queue"] == "eda_deep")
        assert done.returncode == 0 and json.loads(line)["dry_run"] is True
        assert (deep["action"], deep["current"], deep["target"]) == ("up", 0, 1) and "4 job(s) waiting" in deep["reason"]
        assert ours(redis_conn, "eda_deep") == [] and ours(redis_conn, "eda_fast") == []
    finally:
        redis_conn.delete("rq:queue:eda_deep")


def test_heroku_backend_from_the_cli(env):
    from tests.fakes.heroku import FakeHeroku
    missing = subprocess.run([sys.executable, "-m", "scripts.autoscaler", "--backend", "heroku", "--once"], cwd=ROOT,
                             env={k: v for k, v in env.items() if not k.startswith("HEROKU_")},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "HEROKU_API_KEY and HEROKU_APP_NAME" in missing.stderr
    fake = FakeHeroku("wrangler-prod", "k", {"worker": 0})
    try:
        done = subprocess.run([sys.executable, "-m", "scripts.autoscaler", "--backend", "heroku", "--once"], cwd=ROOT,
                              env=dict(env, HEROKU_API_KEY="k", HEROKU_APP_NAME="wrangler-prod",
                                       HEROKU_API_URL=fake.url), capture_output=True, text=True, timeout=60)
        fast = next(d for d in json.loads(done.stdout)["decisions"] if d["queue"] == "eda_fast")
        assert (fast["action"], fast["target"]) == ("up", 1)  # eda_fast's minimum of one worker dyno
        assert fake.formation["worker"] == 1
    finally:
        fake.close()
