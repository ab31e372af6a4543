"""Helpers shared by the benchmarks and the tests: free ports, polling, reaping process trees, throw-away databases."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil


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


def alive(process: psutil.Process) -> bool:
    """Running (a zombie has finished: only its parent's wait is missing)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def session_members(session_id: int) -> list[psutil.Process]:
    """Live processes of one session: a worker, its scheduler and its horse (in a process group of its
    own), gunicorn's workers, an autoscaler's workers; found even after their parent died."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session_id and alive(process):
                found.append(process)
        except (OSError, psutil.Error):  # gone meanwhile
            continue
    return found


def kill_and_wait(processes: list[psutil.Process], timeout: float = 30.0) -> None:
    """SIGKILL each process and return once none of them runs any more."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    wait_until(lambda: not any(alive(p) for p in processes), timeout,
               f"processes survived SIGKILL: {[p.pid for p in processes if alive(p)]}", every=0.05)


def reap(proc: subprocess.Popen, grace: float = 30.0, sig: int = signal.SIGTERM) -> int:
    """Stop a process started with `start_new_session=True` and everything of its session.

    `sig` goes to the leader, which gets `grace` seconds to stop its children and exit; then whatever
    is left of the session is killed. Returns the leader's exit code once no process of the session
    runs, so nothing it started can touch the next test or benchmark.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    kill_and_wait(session_members(proc.pid))  # start_new_session: the session id is the leader's pid
    return proc.wait()


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
