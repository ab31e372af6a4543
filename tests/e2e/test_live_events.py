"""Live progress over HTTP: a real client reads a dataset's event stream from gunicorn while a worker runs the
job, resumes with Last-Event-ID, and many open streams leave uploads and status calls answering."""
from __future__ import annotations

import json
import statistics
import threading
import time

import requests

from harness.generate import write_csv
from harness.processes import reap, start_gunicorn
from tests.e2e.conftest import upload

STREAMS = 10  # held open at once against one web process of 16 threads (EVENTS_MAX_STREAMS 12)


def events(base: str, dataset_id: str, last: str | None = None, timeout: float = 120) -> list[tuple[str, dict]]:
    """(id, data) of every event until the server ends the stream."""
    headers = {"Last-Event-ID": last} if last else {}
    found, event_id = [], None
    with requests.get(f"{base}/dataset/{dataset_id}/events", headers=headers, stream=True, timeout=timeout) as r:
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                found.append((event_id, json.loads(line[6:])))
    return found


def test_a_client_sees_every_stage_and_resumes(server, workers, tmp_path):
    workers()
    body = upload(server, write_csv(tmp_path / "mid.csv", 60_000, 12))
    seen = events(server, body["dataset_id"])
    assert seen[-1][1]["status"] == "completed"
    stages = {data["stage"] for _id, data in seen if data["stage"]}
    assert {"loading", "cleaning", "eda", "saving"} <= stages, stages
    again = events(server, body["dataset_id"], last=seen[1][0])  # a reconnect after the second event
    assert [i for i, _d in again] == [i for i, _d in seen[2:]]


def test_open_streams_do_not_starve_uploads_or_status(env, tmp_path):
    web, base = start_gunicorn(dict(env, WEB_THREADS="16", EVENTS_HEARTBEAT_SECONDS="2", EVENTS_MAX_SECONDS="8"),
                               "--workers", "1")
    try:
        data = tmp_path / "tiny.csv"
        data.write_text("a,b\n1,x\n2,y\n")
        waiting = upload(base, data)["dataset_id"]  # queued, no worker: its streams stay open
        responses = [requests.get(f"{base}/dataset/{waiting}/events", stream=True, timeout=60)
                     for _ in range(STREAMS)]
        assert all(r.status_code == 200 for r in responses)
        readers = [threading.Thread(target=lambda r=r: [None for _ in r.iter_lines()], daemon=True) for r in responses]
        for reader in readers:
            reader.start()
        time.sleep(0.5)
        status_s, upload_s = [], []
        for _ in range(20):
            started = time.monotonic()
            assert requests.get(f"{base}/dataset/{waiting}/status", timeout=10).status_code == 200
            status_s.append(time.monotonic() - started)
        for _ in range(5):
            started = time.monotonic()
            upload(base, data)
            upload_s.append(time.monotonic() - started)
        over = [requests.get(f"{base}/dataset/{waiting}/events", stream=True, timeout=10) for _ in range(3)]
        print(f"{STREAMS} streams open: status p50 {statistics.median(status_s) * 1000:.0f} ms, "
              f"max {max(status_s) * 1000:.0f} ms; upload p50 {statistics.median(upload_s) * 1000:.0f} ms, "
              f"max {max(upload_s) * 1000:.0f} ms; beyond the cap: {[r.status_code for r in over]}")
        assert [r.status_code for r in over] == [200, 200, 503]  # 12 streams a process, then 503
        assert max(status_s) < 5 and max(upload_s) < 10  # answered, not queued behind the streams
        for reader in readers:  # each stream ends by itself at EVENTS_MAX_SECONDS
            reader.join(30)
        assert not any(reader.is_alive() for reader in readers)
        for response in responses + over:
            response.close()
    finally:
        reap(web)
