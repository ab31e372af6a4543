"""The autoscaler's policy: per-queue stats and limits in, a target worker count and its reason out."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from jobs.queues import DEEP_QUEUE, FAST_QUEUE


@dataclass(frozen=True)
class QueueStats:
    queue: str
    depth: int  # jobs waiting
    oldest_age: float  # seconds the oldest waiting job has waited (0 when none)
    busy: int
    idle: int
    completed_per_minute: float = 0.0

    @property
    def workers(self) -> int:
        return self.busy + self.idle


@dataclass(frozen=True)
class ScalingPolicy:
    """One queue's autoscaling limits and thresholds (jobs.queues.QueuePolicy is how its jobs run)."""
    min_workers: int
    max_workers: int
    scale_up_depth: int = 50
    scale_down_depth: int = 10
    target_age: float = 60.0
    step: int = 1
    up_cooldown: float = 10.0
    down_cooldown: float = 60.0

    def __post_init__(self):
        if not 0 <= self.min_workers <= self.max_workers:
            raise ValueError(f"need 0 <= min <= max workers; got {self.min_workers}..{self.max_workers}")
        if self.step < 1:
            raise ValueError(f"workers per scale must be at least 1; got {self.step}")
        if self.scale_down_depth > self.scale_up_depth:
            raise ValueError(f"scale-down depth ({self.scale_down_depth}) must not exceed scale-up depth "
                             f"({self.scale_up_depth})")
        for name in ("target_age", "up_cooldown", "down_cooldown"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative; got {getattr(self, name)}")


DEFAULT_POLICIES = {FAST_QUEUE: ScalingPolicy(1, 20), DEEP_QUEUE: ScalingPolicy(0, 5)}


@dataclass(frozen=True)
class Decision:
    queue: str
    current: int
    target: int
    action: str  # "up", "down" or "hold"
    reason: str

    def as_dict(self) -> dict:
        return asdict(self)


def _decision(stats: QueueStats, target: int, reason: str) -> Decision:
    action = "up" if target > stats.workers else "down" if target < stats.workers else "hold"
    return Decision(stats.queue, stats.workers, target, action, reason)


def decide(stats: QueueStats, policy: ScalingPolicy, now: float, last_up: float | None = None,
           last_down: float | None = None) -> Decision:
    """Where the queue's worker count should go, and why. Never below the busy workers."""
    current, floor = stats.workers, max(policy.min_workers, stats.busy)
    if current < policy.min_workers:
        return _decision(stats, policy.min_workers, f"below the minimum of {policy.min_workers}")
    if current > policy.max_workers:
        return _decision(stats, max(policy.max_workers, stats.busy), f"above the maximum of {policy.max_workers}")
    pressure = None
    if stats.depth > 0 and current == 0:
        pressure = f"{stats.depth} job(s) waiting and no worker"
    elif stats.depth > policy.scale_up_depth:
        pressure = f"{stats.depth} jobs waiting (more than {policy.scale_up_depth})"
    elif stats.depth > 0 and stats.oldest_age > policy.target_age:
        pressure = f"oldest job waited {stats.oldest_age:.0f} s (more than {policy.target_age:.0f} s)"
    if pressure:
        if current >= policy.max_workers:
            return _decision(stats, current, f"{pressure}, but already at the maximum of {policy.max_workers}")
        since = None if last_up is None else now - last_up
        if since is not None and since < policy.up_cooldown:
            return _decision(stats, current, f"{pressure}; scale-up cooldown ({policy.up_cooldown - since:.0f} s left)")
        return _decision(stats, min(policy.max_workers, current + policy.step), pressure)
    if stats.depth < policy.scale_down_depth and stats.idle > 0 and current > floor:
        last = max((t for t in (last_up, last_down) if t is not None), default=None)
        since = None if last is None else now - last
        if since is not None and since < policy.down_cooldown:
            return _decision(stats, current, f"{stats.idle} idle; scale-down cooldown "
                                             f"({policy.down_cooldown - since:.0f} s left)")
        target = max(floor, current - min(policy.step, stats.idle))
        return _decision(stats, target, f"{stats.depth} waiting (fewer than {policy.scale_down_depth}) and "
                                        f"{stats.idle} idle")
    return _decision(stats, current, "within limits")
