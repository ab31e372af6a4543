"""Shared fixtures: config, app, client, real Redis and database, burst worker, sample frames; the upload helpers."""
from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.config import TestConfig, test_settings  # noqa: E402
from app.extensions import db as _db  # noqa: E402
from harness.processes import wait_until as poll  # noqa: E402
from jobs.queues import QUEUE_NAMES  # noqa: E402


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> dict:
    values = test_settings()
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    return values


@pytest.fixture(scope="session")
def redis_conn(settings):
    connection = Redis.from_url(settings["redis_url"])
    try:
        connection.ping()
    except Exception as exc:  # noqa: BLE001 - turn any connection problem into one clear message
        pytest.exit(f"Redis is required for the tests at {settings['redis_url']}: {exc}", returncode=3)
    connection.flushdb()  # our own db number: nothing else lives here
    yield connection
    connection.flushdb()


def make_config(settings, storage_dir, **values) -> TestConfig:
    return TestConfig(database_url=settings["database_url"], redis_url=settings["redis_url"],
                      storage_dir=str(storage_dir), **values)


@pytest.fixture(scope="session")
def app(settings, redis_conn, tmp_path_factory):
    application = create_app(make_config(settings, tmp_path_factory.mktemp("storage"), RECONCILE_GRACE_SECONDS=0))
    with application.app_context():
        _db.drop_all()
        _db.create_all()
    yield application
    with application.app_context():
        _db.session.remove()
        _db.drop_all()
        _db.engine.dispose()


@pytest.fixture()
def db(app, redis_conn):
    """An app context over empty tables, empty storage and an empty Redis db."""
    with app.app_context():
        yield _db
        _db.session.rollback()
        for table in reversed(_db.metadata.sorted_tables):
            _db.session.execute(table.delete())
        _db.session.commit()
        _db.session.remove()
    redis_conn.flushdb()
    storage_root = Path(app.config["STORAGE_DIR"])
    for child in storage_root.iterdir():
        if child.is_dir():
            shutil.rmtree(child)


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def configure(app, monkeypatch):
    """Change the shared app's settings for one test: `configure(MAX_ROWS=10, ...)`, as often as it likes.

    Every key gets back exactly what it held before (or is removed again if it was not set), pass or fail:
    monkeypatch.setitem remembers each first value and undoes in reverse order after the test (so a test's own
    `monkeypatch.undo()` puts these back too).
    """
    def change(**values) -> None:
        for key, value in values.items():
            monkeypatch.setitem(app.config, key, value)
    return change


@pytest.fixture()
def run_worker(app, redis_conn):
    """Run every queued job in this process with a real RQ burst worker."""
    from rq import SimpleWorker

    def run() -> bool:
        worker = SimpleWorker(list(QUEUE_NAMES), connection=redis_conn)
        with app.app_context():
            return worker.work(burst=True)
    return run


@pytest.fixture()
def messy() -> pd.DataFrame:
    return pd.DataFrame({
        "price": ["$1,200", " $5 ", None, "(3.50)", "12", "$7"],
        "active": ["yes", "No", "Y", None, "n", "true"],
        "age": [31.0, 25.0, None, 40.0, 40.0, 33.0],
        "city": ["Paris", "Rome", None, "Paris", "Paris", "Oslo"],
        "empty": [None] * 6,
    })


def stored_files(app) -> list[str]:
    root = Path(app.config["STORAGE_DIR"])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def wait_until(condition, timeout: float, message: str, every: float = 0.2):
    """Poll `condition` until it returns something truthy; fail the test with `message` at the timeout."""
    try:
        return poll(condition, timeout, message, every)
    except TimeoutError:
        pytest.fail(message)


def upload(client, data: bytes, name: str = "d.csv", *, path: str = "/dataset/upload", headers: dict | None = None,
           environ_base: dict | None = None, **fields):
    """POST `data` as the file part of a multipart form (like `curl -F file=@name`), `fields` as its other parts.

    Returns the response. `path` is another form target (the HTML page's `/upload`); `headers` and `environ_base`
    go to the test client as they are.
    """
    form = {"file": (io.BytesIO(data), name), **fields}
    return client.post(path, data=form, content_type="multipart/form-data", headers=headers,
                       environ_base=environ_base or {})


def accepted(client, data: bytes, name: str = "d.csv", **options) -> dict:
    """`upload`, which must answer 202 (the error body shows otherwise); returns the JSON body."""
    response = upload(client, data, name, **options)
    assert response.status_code == 202, response.json
    return response.json
