"""Cancel a running job through curl: the worker process stops its horse, nothing of the run is left, and the
worker takes the next job; reprocess it in another mode afterwards."""
from __future__ import annotations

import json
import time
from pathlib import Path

import requests
from redis import Redis
from rq.job import Job, JobStatus

from harness.generate import write_csv
from jobs.queues import job_id_for
from tests.conftest import wait_until
from tests.e2e.conftest import curl, upload, wait_for


def test_cancel_stops_the_running_horse_and_the_worker_goes_on(server, env, workers, tmp_path):
    worker = workers()
    body = upload(server, write_csv(tmp_path / "large.csv", 300_000, 16))
    dataset_id = body["dataset_id"]
    wait_for(server, dataset_id, lambda s: s["status"] == "processing", 60)
    started = time.monotonic()
    answer = json.loads(curl("-X", "POST", f"{server}/dataset/{dataset_id}/cancel"))
    assert answer["status"] == "cancelled" and answer["quota_refunded"] is False
    connection = Redis.from_url(env["REDIS_URL"])
    wait_until(lambda: Job.fetch(job_id_for(dataset_id), connection=connection).get_status() == JobStatus.STOPPED,
               30, "the job was not stopped", every=0.05)
    stopped = time.monotonic() - started
    print(f"cancel to stopped: {stopped:.2f} s")
    assert stopped < 10
    assert worker.poll() is None  # the worker lives on: only its horse was killed

    storage = Path(env["STORAGE_DIR"]) / "datasets" / dataset_id
    wait_until(lambda: not (storage / "runs" / "1").exists(), 10, "the cancelled run left files behind")
    assert (storage / "raw.csv").exists()  # the upload itself stays, to be reprocessed
    status = requests.get(f"{server}/dataset/{dataset_id}/status", timeout=5).json()
    assert status["status"] == "cancelled" and status["progress_info"] == "Cancelled."
    runs = requests.get(f"{server}/dataset/{dataset_id}/runs", timeout=5).json()["runs"]
    assert runs[0]["outcome"] == "cancelled" and runs[0]["attempts"][-1]["outcome"] == "cancelled"

    small = tmp_path / "small.csv"
    small.write_text("a,b\n1,x\n2,y\n3,x\n")
    follow = upload(server, small)  # the same worker takes the next job
    assert wait_for(server, follow["dataset_id"], lambda s: s["status"] in ("completed", "failed"), 60)[
        "status"] == "completed"

    again = json.loads(curl("-X", "POST", "-F", "mode=smart", "-F", "features=false",
                            f"{server}/dataset/{dataset_id}/reprocess"))
    assert again["run"] == 2 and again["mode"] == "smart" and again["options"]["features"] is False
    done = wait_for(server, dataset_id, lambda s: s["status"] in ("completed", "failed"), 150)
    assert done["status"] == "completed" and done["run"] == 2
    assert requests.get(f"{server}/dataset/{dataset_id}/cleaned", timeout=30).status_code == 200
