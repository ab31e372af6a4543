"""End to end in JSON log mode: gunicorn's and the worker's lines for one upload share its request id."""
from __future__ import annotations

import json

import pytest

from harness.processes import reap, start_gunicorn
from tests.e2e.conftest import curl, wait_for

pytestmark = pytest.mark.timeout(180)


def _lines(path) -> list[dict]:
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # gunicorn's own start-up lines are not ours to format
    return found


def test_web_and_worker_json_lines_share_the_request_id(env, workers, tmp_path):
    web_log, worker_log = tmp_path / "web.log", tmp_path / "worker.log"
    with open(web_log, "w") as web_out, open(worker_log, "w") as worker_out:
        web, base = start_gunicorn(dict(env, LOG_FORMAT="json"), output=web_out)
        try:
            workers(env_extra={"LOG_FORMAT": "json"}, output=worker_out)
            data = tmp_path / "tiny.csv"
            data.write_text("a,b\n1,x\n2,y\n3,x\n4,y\n")
            headers = curl("-s", "-D", "-", "-o", str(tmp_path / "body.json"), "-H", "X-Request-ID: e2e-trace-1",
                           "-F", f"file=@{data}", f"{base}/dataset/upload")
            assert "X-Request-ID: e2e-trace-1" in headers
            dataset_id = json.loads((tmp_path / "body.json").read_text())["dataset_id"]
            status = wait_for(base, dataset_id, lambda s: s["status"] in ("completed", "failed"), 90)
            assert status["status"] == "completed", status
        finally:
            reap(web)
    web_lines = [line for line in _lines(web_log) if line.get("dataset_id") == dataset_id]
    worker_lines = [line for line in _lines(worker_log) if line.get("dataset_id") == dataset_id]
    assert web_lines and worker_lines
    assert {line["request_id"] for line in web_lines + worker_lines} == {"e2e-trace-1"}
    assert all(line["job_id"] == f"dataset-{dataset_id}" for line in worker_lines)
