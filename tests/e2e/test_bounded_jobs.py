"""Bounded jobs in real forking workers: a Parquet bomb, the memory ceiling and a killed job process."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from app import create_app
from app import config as app_config
from app.extensions import db
from app.ingest import Intake
from app.models import Dataset
from app.services import submit_dataset
from harness.generate import write_csv
from harness.processes import start_worker
from jobs.pipeline.load import inspect
from tests.conftest import wait_until

ROWS, WIDTH = 200_000, 16_000  # one 16 KB value repeated: ~0.5 MB on disk, 3 GB decoded


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """Dictionary-encoded, run-length-coded repeats of one long string, written without pyarrow's schema
    (as other writers do), so it reads back as plain text rather than a small categorical."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.parquet"
    note = pa.DictionaryArray.from_arrays(pa.array([0] * ROWS, pa.int32()), pa.array(["x" * WIDTH]))
    pq.write_table(pa.table({"note": note, "n": pa.array(range(ROWS))}), path, compression="zstd",
                   store_schema=False)
    assert path.stat().st_size < 1024 * 1024
    return path


@pytest.fixture(scope="module")
def site(env):
    """The app the worker processes see (same database, storage and Redis), to submit and inspect datasets."""
    app = create_app(app_config.TestConfig(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"],
                                storage_dir=env["STORAGE_DIR"]))
    yield app
    with app.app_context():
        db.engine.dispose()


def submit(site, path: Path, tmp_path: Path) -> str:
    """Store and enqueue a file as an accepted upload would be (the web's own checks are not under test)."""
    copy = tmp_path / f"upload-{time.monotonic_ns()}"
    shutil.copy(path, copy)
    with site.app_context():
        intake = Intake(tmp_path=str(copy), filename=path.name, size=copy.stat().st_size,
                        info=inspect(copy, path.name))
        dataset, enqueued = submit_dataset(intake, user_id=f"bounded-{copy.name}", collaboration_id=None,
                                           mode="fast", target=None)
        assert enqueued
        return dataset.id


def burst_worker(env, on_start=None, **settings) -> tuple[int, float]:
    """Run a forking burst worker until the queues are empty; its exit code and peak RSS (MB) of it and
    its job processes (wait4 reports the largest of the tree)."""
    proc = start_worker({**env, **{k: str(v) for k, v in settings.items()}}, "--burst")
    watchdog = threading.Timer(180, proc.kill)
    watchdog.start()
    try:
        if on_start:
            on_start(proc)
        _pid, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


def stored(site, dataset_id: str) -> Dataset:
    with site.app_context():
        dataset = db.session.get(Dataset, dataset_id)
        db.session.expunge(dataset)
    return dataset


def assert_failed_once(site, redis_conn, dataset_id: str) -> Dataset:
    """Failed for good on the first attempt: RQ keeps it as failed and never scheduled a retry."""
    dataset, job = stored(site, dataset_id), Job.fetch(f"dataset-{dataset_id}", connection=redis_conn)
    assert (dataset.status, dataset.attempts) == ("failed", 1), dataset.error
    assert job.get_status() == JobStatus.FAILED and not job.number_of_retries
    assert job.id in FailedJobRegistry("eda_fast", connection=redis_conn).get_job_ids()
    assert job.id not in ScheduledJobRegistry("eda_fast", connection=redis_conn).get_job_ids()
    assert "datasets/" not in dataset.error and "/tmp" not in dataset.error
    return dataset


def test_parquet_bomb_is_refused_before_it_is_decoded(env, site, redis_conn, bomb, tmp_path):
    dataset_id = submit(site, bomb, tmp_path)
    # A ceiling as a safety net: without the decoded-size check the job would head for 5+ GB.
    code, peak_mb = burst_worker(env, MAX_DECODED_MB=800, JOB_MEMORY_MB=2048)
    assert code == 0
    dataset = assert_failed_once(site, redis_conn, dataset_id)
    assert "would take about 3,0" in dataset.error and "limit of 800 MB (MAX_DECODED_MB)" in dataset.error
    assert peak_mb < 1000, peak_mb  # the worker's own ~250 MB: nothing was decoded


def test_memory_ceiling_fails_the_job_and_the_worker_goes_on(env, site, redis_conn, bomb, tmp_path):
    bombed = submit(site, bomb, tmp_path)
    small = tmp_path / "small.csv"
    small.write_text("a,b\n1,x\n2,\n,y\n4,x\n")
    after = submit(site, small, tmp_path)
    # No decoded-size limit: only RLIMIT_AS (1 GB, the worker itself maps ~550 MB) stops the bomb.
    code, peak_mb = burst_worker(env, MAX_DECODED_MB=0, JOB_MEMORY_MB=1024)
    dataset = assert_failed_once(site, redis_conn, bombed)
    assert dataset.error.startswith("The job ran out of memory") and "JOB_MEMORY_MB = 1,024 MB" in dataset.error
    assert peak_mb < 1100, peak_mb  # resident memory stays under the address-space ceiling
    assert code == 0 and stored(site, after).status == "completed"  # the worker survived


def test_job_process_killed_by_the_system_is_not_run_again(env, site, redis_conn, tmp_path):
    slow = write_csv(tmp_path / "slow.csv", 40_000, 40)
    killed = submit(site, slow, tmp_path)
    small = tmp_path / "small.csv"
    small.write_text("a,b\n1,x\n2,\n,y\n")
    after = submit(site, small, tmp_path)

    def horse(worker: subprocess.Popen) -> psutil.Process | None:
        # RQ's job process leads its own process group (a scheduler process would not).
        return next((c for c in psutil.Process(worker.pid).children() if os.getpgid(c.pid) == c.pid), None)

    def kill_the_horse(worker: subprocess.Popen) -> None:
        # What the kernel's OOM killer does: SIGKILL to the biggest process, the job's.
        running = wait_until(lambda: horse(worker), 60, "no job process started")
        time.sleep(0.5)
        running.send_signal(signal.SIGKILL)
    code, _peak = burst_worker(env, on_start=kill_the_horse)
    dataset = assert_failed_once(site, redis_conn, killed)
    assert dataset.error.startswith("The job's process was killed (SIGKILL"), dataset.error
    assert "running out of memory" in dataset.error
    assert code == 0 and stored(site, after).status == "completed"
