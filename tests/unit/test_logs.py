"""Log lines: JSON or text, the work's context on every line, secrets cut out, request ids sane."""
from __future__ import annotations

import contextvars
import io
import json
import logging

import pytest

from app.logs import bind, bound, configure_logging, current, redact, request_id_from, unbind


@pytest.fixture(autouse=True)
def loggers():
    # pytest sets the root logger to WARNING for each test phase; these loggers say what they log themselves.
    for name in ("wrangler.test", "t"):
        logging.getLogger(name).setLevel(logging.INFO)
    yield
    for name in ("wrangler.test", "t"):
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.fixture()
def lines():
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging("INFO", "json", stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_the_context_and_nothing_secret(lines):
    contextvars.Context().run(_write_json_lines)
    first, second, third = lines()
    _check_json_lines(first, second, third)


def _write_json_lines() -> None:
    token = bind(request_id="req-1", dataset_id="ds-1")
    try:
        inner = bind(job_id="dataset-ds-1", user="alice")
        logging.getLogger("wrangler.test").info("token %s and Bearer %s and api_key=%s", "wrt_abcdefgh123",
                                                "xyz.secret", "k123")
        unbind(inner)
        logging.getLogger("wrangler.test").warning("after the job")
    finally:
        unbind(token)
    logging.getLogger("wrangler.test").info("outside")
    assert current("request_id") is None


def _check_json_lines(first: dict, second: dict, third: dict) -> None:
    assert {k: first[k] for k in ("level", "logger", "request_id", "dataset_id", "job_id", "user")} == {
        "level": "INFO", "logger": "wrangler.test", "request_id": "req-1", "dataset_id": "ds-1",
        "job_id": "dataset-ds-1", "user": "alice"}
    assert "wrt_" not in first["message"] and "xyz.secret" not in first["message"] and "k123" not in first["message"]
    assert first["message"].count("[redacted]") == 3 and first["timestamp"]
    assert second["job_id"] is None and second["request_id"] == "req-1"
    assert third["request_id"] is None


def test_text_lines_name_only_the_fields_that_are_set():
    stream = io.StringIO()
    configure_logging("INFO", "text", stream)

    def write() -> None:  # in a fresh context: whatever other tests bound stays theirs
        with bound(request_id="r9"):
            logging.getLogger("t").info("hello")
        logging.getLogger("t").info("plain")
    try:
        contextvars.Context().run(write)
    finally:
        configure_logging("INFO", "text")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("t: hello [request_id=r9]") and second.endswith("t: plain")


def test_request_ids_from_callers_must_be_sane():
    assert request_id_from("abc-123_x.y:z") == "abc-123_x.y:z"
    for bad in (None, "", "a b", "x" * 129, "line\nbreak", "<script>"):
        generated = request_id_from(bad)
        assert len(generated) == 32 and generated != bad
    assert redact("Authorization: Bearer abc") == "Authorization: [redacted]"
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        configure_logging("INFO", "xml")
