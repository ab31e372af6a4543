"""Request ids: echoed, in error bodies, carried into the job; web and worker log lines of a dataset share it."""
from __future__ import annotations

import io
import json
import logging

import pytest
from rq.job import Job

from app.logs import configure_logging
from jobs.queues import job_id_for
from tests.conftest import upload


@pytest.fixture()
def json_lines(app):
    stream = io.StringIO()
    loggers = [logging.getLogger(n) for n in ("app", "jobs")]
    for logger in loggers:  # pytest holds the root at WARNING; these say INFO for the test
        logger.setLevel(logging.INFO)
    configure_logging("INFO", "json", stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    for logger in loggers:
        logger.setLevel(logging.NOTSET)


def test_a_sane_request_id_is_echoed_and_a_bad_one_replaced(client):
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    generated = client.get("/health", headers={"X-Request-ID": "no spaces <allowed>"}).headers["X-Request-ID"]
    assert generated != "no spaces <allowed>" and len(generated) == 32
    assert len(client.get("/health").headers["X-Request-ID"]) == 32


def test_error_bodies_name_the_request(client):
    response = client.get("/dataset/unknown/status", headers={"X-Request-ID": "trace-404"})
    assert response.status_code == 404 and response.json["error"]["request_id"] == "trace-404"
    assert response.headers["X-Request-ID"] == "trace-404"


def test_web_and_worker_lines_of_a_dataset_share_its_request_id(client, run_worker, redis_conn, json_lines):
    response = upload(client, b"a,b\n1,x\n2,y\n3,x\n4,y\n", "small.csv", headers={"X-Request-ID": "upload-77"})
    assert response.status_code == 202 and response.headers["X-Request-ID"] == "upload-77"
    dataset_id = response.json["dataset_id"]
    assert Job.fetch(job_id_for(dataset_id), connection=redis_conn).meta["request_id"] == "upload-77"
    run_worker()
    mine = [line for line in json_lines() if line.get("dataset_id") == dataset_id]
    web = [line for line in mine if line["logger"].startswith("app.")]
    worker = [line for line in mine if line["logger"].startswith("jobs.")]
    assert web and worker, mine
    assert {line["request_id"] for line in web + worker} == {"upload-77"}
    assert {line["job_id"] for line in worker} == {job_id_for(dataset_id)}
    assert any("completed" in line["message"] for line in worker)
    assert all({"timestamp", "level", "logger", "message", "user"} <= set(line) for line in mine)
