"""Throw-away databases for a stack: a scratch PostgreSQL database or SQLite file, migrated by `flask db upgrade`."""
from __future__ import annotations

import contextlib
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from harness.processes import BIN, ROOT


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


def migrate(env: dict) -> None:
    """`flask db upgrade` on the DATABASE_URL of `env` (the release step), at the repository's root."""
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
