"""Logging: one line per record, text or JSON (LOG_FORMAT), carrying the request id, dataset, job and user of the
work in hand (set by the web request and by the job), with bearer tokens and secrets cut out."""
from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid
from contextlib import contextmanager
from typing import Iterator

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("request_id", "dataset_id", "job_id", "user")
FORMATS = ("text", "json")
_CONTEXT: contextvars.ContextVar[tuple] = contextvars.ContextVar("wrangler_log_context", default=())
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # what a caller may send as X-Request-ID
# Tokens we issue, bearer headers, and key=value secrets: never written to a log.
_SECRETS = re.compile(r"wrt_[A-Za-z0-9_-]{6,}|(?i:bearer)\s+\S+|(?i:(?:api[_-]?key|secret|password|token)=)\S+")


def bind(**values: str | None) -> contextvars.Token:
    """Add fields to the current context (None leaves a field as it was); undo with `unbind(token)`."""
    merged = {**dict(_CONTEXT.get()), **{k: v for k, v in values.items() if v is not None}}
    return _CONTEXT.set(tuple(merged.items()))  # immutable, so no context can change another's fields


def unbind(token: contextvars.Token) -> None:
    _CONTEXT.reset(token)


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """The fields for the lines written inside the block only."""
    token = bind(**values)
    try:
        yield
    finally:
        unbind(token)


def current(name: str) -> str | None:
    return dict(_CONTEXT.get()).get(name)


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is a sane token (letters, digits, . _ : -, up to 128), else a new one."""
    return header if header and _SANE_ID.fullmatch(header) else uuid.uuid4().hex


def redact(text: str) -> str:
    return _SECRETS.sub("[redacted]", text)


class ContextFilter(logging.Filter):
    """Stamps the context's fields on each record and cuts secrets out of its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = dict(_CONTEXT.get())
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, context.get(name))
        message = record.getMessage()
        if _SECRETS.search(message):
            record.msg, record.args = redact(message), None
        return True


class TextFormatter(logging.Formatter):
    """'time LEVEL logger: message [request_id=… dataset_id=…]' with only the fields that are set."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{name}={getattr(record, name)}" for name in FIELDS if getattr(record, name, None))
        return f"{line} [{fields}]" if fields else line


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        return JsonFormatter("{asctime}{levelname}{name}{message}" + "".join(f"{{{f}}}" for f in FIELDS), style="{",
                             rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
                             datefmt="%Y-%m-%dT%H:%M:%S%z")
    return TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(level: str, kind: str, stream=None) -> None:
    """Replace the root logger's handlers with one stream handler in the chosen format (idempotent)."""
    if kind not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {FORMATS}; got {kind!r}")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "wrangler", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.wrangler = True
    handler.setFormatter(formatter(kind))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
