"""The autoscaler: read queue stats, decide per queue, apply through a backend, publish the decision; its loop."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from redis import Redis
from redis.exceptions import RedisError

from .heroku import HerokuError
from jobs.keys import DECISION_KEY
from .policy import Decision, ScalingPolicy, decide
from .stats import queue_stats

log = logging.getLogger(__name__)
DECISION_TTL = 600
POLL = 0.2  # seconds between looks at `stopping` while waiting for the next tick


class Backend(Protocol):
    """Where workers run: local processes (jobs.scaling.local) or a Heroku formation (jobs.scaling.heroku)."""

    def states(self, queue: str) -> dict[str, str]: ...  # worker name → busy/idle, for the queue's stats

    def start(self, queue: str, count: int) -> list[str]: ...

    def stop_idle(self, queue: str, count: int) -> list[str]: ...  # the workers asked to stop

    def reap(self) -> list[str]: ...  # workers that exited since the last call (their jobs may need recovery)

    def stop_all(self, deadline: float | None = None) -> list[str]: ...  # those killed at the deadline


@dataclass
class Autoscaler:
    connection: Redis
    backend: Backend
    policies: dict[str, ScalingPolicy]
    dry_run: bool = False
    recover: Callable[[list[str]], dict] | None = None  # reclaim the dead workers' jobs, re-enqueue lost datasets
    report: Callable[[dict], None] | None = None  # each tick's record (what is published), for the caller to show
    dead: list[str] = field(default_factory=list)  # exited workers whose jobs no recovery pass has seen yet
    last_up: dict[str, float] = field(default_factory=dict)
    last_down: dict[str, float] = field(default_factory=dict)

    def tick(self, now: float | None = None) -> list[Decision]:
        now = time.monotonic() if now is None else now
        self.dead.extend(self.backend.reap())
        if self.recover is not None:
            outcome = self.recover(self.dead)
            if not outcome.get("skipped"):  # another process held the recovery lock: try again next tick
                self.dead.clear()
        decisions = []
        for queue, policy in self.policies.items():
            stats = queue_stats(self.connection, queue, states=self.backend.states(queue))
            decision = decide(stats, policy, now, self.last_up.get(queue), self.last_down.get(queue))
            if not self.dry_run and decision.action == "up":
                self.backend.start(queue, decision.target - decision.current)
                if decision.current >= policy.min_workers:  # filling up to the minimum is no reaction to load
                    self.last_up[queue] = now
            elif not self.dry_run and decision.action == "down":
                if self.backend.stop_idle(queue, decision.current - decision.target):
                    self.last_down[queue] = now
            decisions.append(decision)
        self.publish(decisions)
        return decisions

    def publish(self, decisions: list[Decision]) -> dict:
        """The tick's record in Redis (the monitor and /metrics read it) and to `report`."""
        record = {"at": time.time(), "dry_run": self.dry_run, "decisions": [d.as_dict() for d in decisions]}
        self.connection.set(DECISION_KEY, json.dumps(record), ex=DECISION_TTL)
        if self.report is not None:
            self.report(record)
        return record

    def run(self, interval: float, stopping: Callable[[], bool], once: bool = False,
            transient: tuple[type[Exception], ...] = (RedisError, HerokuError)) -> None:
        """Tick every `interval` seconds until `stopping()` (or once); then stop every worker gracefully (each
        finishes its job) and recover the jobs of those killed at the deadline. A `transient` error (Redis or
        the platform's API down for a moment) is logged and the loop goes on."""
        try:
            while not stopping():
                try:
                    self.tick()
                except transient as exc:
                    log.error("tick failed: %s", exc)
                if once:
                    break
                end = time.monotonic() + interval
                while not stopping() and time.monotonic() < end:
                    time.sleep(POLL)
        finally:
            killed = self.backend.stop_all()
            if killed and self.recover is not None:
                self.recover(killed)
