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

from jobs.scaling.monitor import DECISION_KEY
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def ours(connection, queue: str) -> list[Worker]:
    return [w for w in Worker.all(connection=connection) if w.name.startswith(f"auto-{queue}-")]



def test_burst_grows_drains_shrinks_replaces_crashes_and_stops_cleanly(server, env, tmp_path):
    connection = Redis.from_url(env["REDIS_URL"])
    scaler = subprocess.Popen(
        [sys.executable, "scripts/autoscaler.py", "--interval", "0.5", "--scale-up", "3", "--scale-down", "1",
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
        for _ in range(14):
            with open(csv, "rb") as fh:
                ids.append(requests.post(server + "/dataset/upload", files={"file": ("small.csv", fh)}).json()
                           ["dataset_id"])
        wait_until(lambda: len(ours(connection, "eda_fast")) == 3, 90, "the pool did not grow under the burst")

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
