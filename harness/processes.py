"""A running stack's processes: a private redis-server, gunicorn, workers; free ports, polling, reaping, strays."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


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


def marked(name: str, value: str, keep: set[int] | frozenset[int] = frozenset()) -> list[psutil.Process]:
    """Live processes whose environment sets `name` to `value` (so their children too, whatever their parent
    now), but for those of the sessions in `keep`: what a test or a run left behind."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) not in keep and process.environ().get(name) == value and alive(process):
                found.append(process)
        except (OSError, psutil.Error):  # gone meanwhile, or not ours to read
            continue
    return found


def describe(processes: list[psutil.Process]) -> list[str]:
    """Pid and command of each process, for a failure message."""
    out = []
    for process in processes:
        try:
            out.append(f"{process.pid} {' '.join(process.cmdline()[1:3])}")
        except psutil.Error:
            out.append(f"{process.pid} (gone)")
    return out


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
    return reap_all([proc], grace, sig)[0]


def reap_all(procs: list[subprocess.Popen], grace: float = 30.0, sig: int = signal.SIGTERM) -> list[int]:
    """`reap` several session leaders at once: `sig` to each, `grace` seconds for all of them together, then
    whatever is left of their sessions is killed; their exit codes."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, deadline - time.monotonic()))
    # start_new_session: a session's id is its leader's pid
    kill_and_wait([member for proc in procs for member in session_members(proc.pid)])
    return [proc.wait() for proc in procs]


def serves(port: int, pid: int, password: str | None = None) -> bool:
    """The Redis answering on `port` is the process `pid` (not another run's server that took the port)."""
    try:
        return Redis(port=port, password=password, socket_connect_timeout=0.5).info("server")["process_id"] == pid
    except Exception:  # noqa: BLE001 - not up yet, whatever the reason
        return False


def start_redis(port: int, *options: str, password: str | None = None) -> subprocess.Popen:
    """A redis-server of our own on `port` (nothing kept on disk), once it answers; in a session of its own
    (`reap` it). `options` go on its command line; `password` is what it answers to (its --requirepass)."""
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", *options], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: proc.poll() is not None or serves(port, proc.pid, password), 10,
                   "private redis-server did not start", every=0.05)
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server could not listen on port {port}")
    except BaseException:
        reap(proc, grace=0)
        raise
    return proc


def healthy(base: str) -> bool:
    """GET `base`/health answers 200."""
    try:
        return requests.get(base + "/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start_gunicorn(env: dict, *options: str, timeout: int = 120, output=subprocess.DEVNULL
                   ) -> tuple[subprocess.Popen, str]:
    """gunicorn serving wsgi:app on a free port (its --timeout `timeout`, then `options`), once /health answers
    200, and its base URL; in a session of its own (`reap` it). Its stdout and stderr go to `output` (an open
    file to read its log lines)."""
    port = free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--timeout", str(timeout),
                             *options, "wsgi:app"], cwd=ROOT, env=env, start_new_session=True, stdout=output,
                            stderr=output)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: healthy(base), 60, "gunicorn did not become healthy", every=0.1)
    except BaseException:
        reap(proc, grace=5)
        raise
    return proc, base


def start_worker(env: dict, *args: str, output=subprocess.DEVNULL) -> subprocess.Popen:
    """`python -m scripts.worker *args` at the repository's root, in a session of its own: `reap` it (SIGTERM
    is a warm shutdown; its scheduler and job process go with it)."""
    return subprocess.Popen([sys.executable, "-m", "scripts.worker", *args], cwd=ROOT, env=env,
                            start_new_session=True, stdout=output, stderr=output)
