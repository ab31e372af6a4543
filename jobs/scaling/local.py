"""Local process backend: worker processes started, stopped gracefully (idle first) and reaped here."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Managed:
    name: str
    queue: str
    process: subprocess.Popen
    stopping_since: float | None = None


@dataclass
class LocalBackend:
    connection: Redis
    stop_deadline: float = 60.0  # seconds a worker gets to finish before it is killed
    env: dict | None = None
    workers: list[Managed] = field(default_factory=list)

    def running(self, queue: str) -> list[Managed]:
        return [w for w in self.workers if w.queue == queue and w.stopping_since is None]

    def start(self, queue: str, count: int) -> list[str]:
        names = []
        for _ in range(count):
            name = f"auto-{queue}-{uuid.uuid4().hex[:8]}"  # the monitor tells ours apart by the prefix
            process = subprocess.Popen([sys.executable, "-m", "scripts.worker", "--queue", queue,
                                        "--name", name], cwd=ROOT, env=self.env or os.environ.copy())
            self.workers.append(Managed(name, queue, process))
            names.append(name)
        return names

    def states(self, queue: str) -> dict[str, str]:
        """RQ's view of our workers: 'busy', 'idle', or 'starting' before a worker has registered."""
        found = {}
        for managed in self.running(queue):
            worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + managed.name,
                                        connection=self.connection)
            found[managed.name] = worker.get_state() if worker else "starting"
        return found

    def stop_idle(self, queue: str, count: int) -> list[str]:
        """Warm shutdown for up to `count` idle workers; a busy worker is never asked to stop."""
        idle = [name for name, state in self.states(queue).items() if state == "idle"][:count]
        for managed in self.workers:
            if managed.name in idle:
                managed.process.send_signal(signal.SIGTERM)
                managed.stopping_since = time.monotonic()
        return idle

    def reap(self) -> list[str]:
        """Forget exited workers, killing those past the stop deadline; return their names.

        The names go to the recovery pass, which puts a killed or crashed worker's job back
        on its queue at once and without spending a retry.
        """
        gone = []
        for managed in list(self.workers):
            code = managed.process.poll()
            if code is None and managed.stopping_since is not None and \
                    time.monotonic() - managed.stopping_since > self.stop_deadline:
                log.warning("worker %s did not stop within %.0f s: killing it", managed.name, self.stop_deadline)
                code = self._kill(managed)
            if code is not None:
                if managed.stopping_since is None:
                    log.warning("worker %s exited unexpectedly (code %s)", managed.name, code)
                self._forget(managed)
                self.workers.remove(managed)
                gone.append(managed.name)
        return gone

    def stop_all(self, deadline: float | None = None) -> list[str]:
        """Warm shutdown for every worker, then kill whatever is left at the deadline; return their names."""
        for managed in self.workers:
            if managed.process.poll() is None:
                managed.process.send_signal(signal.SIGTERM)
        end = time.monotonic() + (self.stop_deadline if deadline is None else deadline)
        for managed in self.workers:
            try:
                managed.process.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker %s did not stop in time: killing it", managed.name)
                self._kill(managed)
            self._forget(managed)
        names = [managed.name for managed in self.workers]
        self.workers.clear()
        return names

    def _kill(self, managed: Managed) -> int:
        managed.process.kill()  # its work horse follows (PR_SET_PDEATHSIG)
        return managed.process.wait()

    def _forget(self, managed: Managed) -> None:
        """Drop a dead worker's registration: gone from `rq info` and the monitor now, not when its key expires.

        Also after a stop we asked for: RQ registers a worker before it installs its SIGTERM handler (it
        starts the scheduler in between), so a worker stopped while starting dies at once, still registered.
        """
        try:
            worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + managed.name,
                                        connection=self.connection)
            if worker is not None:
                worker.register_death()
        except RedisError as exc:  # Redis away: the registration expires with its TTL instead
            log.warning("could not drop the registration of worker %s: %s", managed.name, exc)
