"""Bounded jobs in a real RQ worker: over-limit and unreadable inputs fail at once with a plain reason."""
from __future__ import annotations

import io
import logging
import re

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.timeouts import JobTimeoutException

from app.models import Dataset
from app.storage import MissingObject, StorageError
from jobs.failures import HorseKilled, JobGaveUp
from jobs.limits import DecodedTooLarge, OutputTooLarge
from jobs.pipeline.load import FormatError, LoadError
from jobs.queues import is_final
from tests.conftest import accepted, stored_files


def finished(db, redis_conn, body: dict) -> tuple[Dataset, Job]:
    db.session.expire_all()
    return db.session.get(Dataset, body["dataset_id"]), Job.fetch(body["job_id"], connection=redis_conn)


def assert_failed_once(dataset: Dataset, job: Job, redis_conn) -> None:
    """Failed for good on the first attempt: RQ keeps it as failed and never scheduled a retry."""
    assert (dataset.status, dataset.attempts) == ("failed", 1), dataset.error
    assert job.get_status() == JobStatus.FAILED and not job.number_of_retries
    assert job.id in FailedJobRegistry(job.origin, connection=redis_conn).get_job_ids()
    assert job.id not in ScheduledJobRegistry(job.origin, connection=redis_conn).get_job_ids()


def long_text_csv(rows: int, width: int) -> bytes:
    return b"id,note\n" + b"".join(b"%d,%s\n" % (i, b"w" * width) for i in range(rows))


def test_table_over_the_decoded_limit_fails_at_once(app, client, db, redis_conn, run_worker, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_DECODED_MB", 4)
    # 2 columns × 1,500 rows is nothing by shape; the 4 KB cells are ~6 MB once loaded.
    body = accepted(client, long_text_csv(1500, 4000), "wide_cells.csv", user_id="decoded")
    run_worker()
    dataset, job = finished(db, redis_conn, body)
    assert_failed_once(dataset, job, redis_conn)
    assert "once decoded, over this service's limit of 4 MB (MAX_DECODED_MB)" in dataset.error
    assert dataset.cleaned_key is None and not [f for f in stored_files(app) if "cleaned" in f]


def test_result_over_the_output_cap_fails_and_is_not_stored(app, client, db, redis_conn, run_worker, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_OUTPUT_MB", 1)
    body = accepted(client, long_text_csv(300, 4000), "big_result.csv", user_id="output")  # ~1.2 MB out
    run_worker()
    dataset, job = finished(db, redis_conn, body)
    assert_failed_once(dataset, job, redis_conn)
    assert re.search(r"The result file cleaned\.csv would be \d MB, over .* 1 MB per result file \(MAX_OUTPUT_MB\)",
                     dataset.error)
    assert not [f for f in stored_files(app) if f.startswith(f"datasets/{dataset.id}/runs/")]


def test_unreadable_file_fails_at_once_and_the_user_sees_no_path(app, client, db, redis_conn, run_worker, caplog):
    import pandas as pd
    buffer = io.BytesIO()
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(buffer)
    body = accepted(client, buffer.getvalue(), "ok.parquet", user_id="unreadable")
    dataset = db.session.get(Dataset, body["dataset_id"])
    # The stored original is corrupted after intake: the job's read fails (LoadError), as it would every time.
    app.extensions["storage"].put_stream(dataset.raw_key, io.BytesIO(b"PAR1" + b"x" * 100 + b"PAR1"))
    with caplog.at_level(logging.WARNING, logger="jobs.process"):
        run_worker()
    dataset, job = finished(db, redis_conn, body)
    assert_failed_once(dataset, job, redis_conn)
    assert dataset.error.startswith("Could not read the parquet file") and "<file>" in dataset.error
    for secret in (app.config["STORAGE_DIR"], dataset.raw_key, "/tmp"):
        assert secret not in dataset.error and secret not in dataset.progress_info
    assert app.config["STORAGE_DIR"] in caplog.text  # the operator's log keeps the detail


def test_unknown_error_names_its_class_and_an_error_id_in_the_log(app, client, db, redis_conn, run_worker,
                                                                  monkeypatch, caplog):
    def broken(*_args, **_kwargs):  # an injected fault carrying what users must not see
        raise KeyError("SELECT key FROM datasets WHERE path = '/srv/wrangler/storage/datasets/x/raw.csv'")
    monkeypatch.setattr("jobs.process.run_pipeline", broken)
    body = accepted(client, b"a,b\n1,2\n3,4\n", "d.csv", user_id="unknown")
    with caplog.at_level(logging.ERROR, logger="jobs.process"):
        run_worker()
    dataset, job = finished(db, redis_conn, body)
    found = re.fullmatch(r"Processing failed \(KeyError\); the operator's logs have the details "
                         r"\(error id ([0-9a-f]{12})\)\.", dataset.error)
    assert found, dataset.error
    logged = [r for r in caplog.records if found.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info and "SELECT key" in caplog.text
    # Not known to be final: RQ's retry policy still applies.
    assert dataset.status == "queued" and job.get_status() == JobStatus.SCHEDULED and job.retries_left == 2


@pytest.mark.parametrize("exc, final", [
    (LoadError("x"), True), (FormatError("x"), True), (DecodedTooLarge("x"), True), (OutputTooLarge("x"), True),
    (MemoryError(), True), (JobTimeoutException("x"), True), (HorseKilled(9, 4000.0), True),
    (JobGaveUp("x"), True), (OSError(28, "No space left on device"), False), (StorageError("x"), False),
    (MissingObject("x"), False), (RedisConnectionError("x"), False), (KeyError("x"), False),
])
def test_which_failures_are_final(exc, final):
    assert is_final(exc) is final


def test_an_error_raised_because_of_a_memory_error_is_final():
    try:
        try:
            raise MemoryError()
        except MemoryError as inner:
            raise ValueError("wrapped by a library") from inner
    except ValueError as exc:
        assert is_final(exc)
