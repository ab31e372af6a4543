"""Helpers shared by the benchmarks and the tests: free ports, polling, throw-away databases."""
from __future__ import annotations

import contextlib
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, message: str, every: float = 0.2):
    """Poll `condition` until it returns something truthy (returned); TimeoutError(message) at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(message)


@contextlib.contextmanager
def scratch_database(postgres_url: str | None, folder: str | Path, prefix: str = "wrangler_scratch"):
    """A fresh PostgreSQL database beside `postgres_url` (dropped afterwards), or a SQLite file in
    `folder` when no PostgreSQL URL is given."""
    if not postgres_url:
        yield f"sqlite:///{Path(folder) / f'{prefix}.db'}"
        return
    import psycopg2
    parts = urlsplit(postgres_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")), connect_timeout=5)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
