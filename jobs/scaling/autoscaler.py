"""The autoscaler loop: read queue stats, decide per queue, apply through a backend, publish the decision."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from redis import Redis

from .monitor import DECISION_KEY
from .policy import Decision, QueuePolicy, decide
from .stats import queue_stats

log = logging.getLogger(__name__)
DECISION_TTL = 600


@dataclass
class Autoscaler:
    connection: Redis
    backend: object  # LocalBackend (or any object with running/states/start/stop_idle/reap)
    policies: dict[str, QueuePolicy]
    dry_run: bool = False
    recover: object = None  # callable(dead_workers) -> dict: reclaim abandoned jobs, re-enqueue lost datasets
    dead: list[str] = field(default_factory=list)  # exited workers whose jobs no recovery pass has seen yet
    every_tick: bool = True  # False: print a line only when a queue's action, count or target changes
    _last_printed: tuple = ()
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

    def publish(self, decisions: list[Decision]) -> None:
        record = {"at": time.time(), "dry_run": self.dry_run, "decisions": [d.as_dict() for d in decisions]}
        shape = tuple((d.queue, d.action, d.current, d.target) for d in decisions)
        if self.every_tick or shape != self._last_printed:
            print(json.dumps(record), flush=True)
            self._last_printed = shape
        self.connection.set(DECISION_KEY, json.dumps(record), ex=DECISION_TTL)
