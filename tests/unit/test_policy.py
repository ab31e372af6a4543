"""The autoscaler's policy as a table: stats and timing in, target and action out."""
from __future__ import annotations

import pytest

from jobs.scaling.policy import DEFAULT_POLICIES, ScalingPolicy, QueueStats, decide

FAST = ScalingPolicy(min_workers=1, max_workers=20, scale_up_depth=50, scale_down_depth=10, target_age=60, step=2,
                   up_cooldown=10, down_cooldown=60)
DEEP = ScalingPolicy(min_workers=0, max_workers=5)
NOW = 1000.0


@pytest.mark.parametrize("label,policy,stats,last_up,last_down,target,action", [
    ("idle at min holds", FAST, (0, 0, 0, 1), None, None, 1, "hold"),
    ("below min starts one", FAST, (0, 0, 0, 0), None, None, 1, "up"),
    ("deep idle at zero holds", DEEP, (0, 0, 0, 0), None, None, 0, "hold"),
    ("a job and no worker starts one at once", DEEP, (1, 1, 0, 0), None, None, 1, "up"),
    ("deep burst, steps of one", DEEP, (80, 30, 1, 0), None, None, 2, "up"),
    ("depth over scale-up adds a step", FAST, (51, 5, 2, 0), None, None, 4, "up"),
    ("depth at scale-up holds", FAST, (50, 5, 2, 0), None, None, 2, "hold"),
    ("old job adds a step", FAST, (3, 61, 1, 0), None, None, 3, "up"),
    ("old job but queue empty holds", FAST, (0, 61, 1, 0), None, None, 1, "hold"),
    ("step capped at max", FAST, (500, 5, 19, 0), None, None, 20, "up"),
    ("at max holds", FAST, (500, 5, 20, 0), None, None, 20, "hold"),
    ("up cooldown holds", FAST, (200, 5, 4, 0), NOW - 5, None, 4, "hold"),
    ("up cooldown over", FAST, (200, 5, 4, 0), NOW - 11, None, 6, "up"),
    ("quiet and idle shrinks by a step", FAST, (2, 1, 1, 5), NOW - 61, None, 4, "down"),
    ("shrink after the down cooldown only", FAST, (2, 1, 1, 5), NOW - 30, None, 6, "hold"),
    ("down cooldown counts from the last scale-down too", FAST, (2, 1, 1, 5), None, NOW - 30, 6, "hold"),
    ("never below busy workers", FAST, (0, 0, 6, 1), None, None, 6, "down"),
    ("never below min", FAST, (0, 0, 0, 1), None, None, 1, "hold"),
    ("all busy, nothing to stop", FAST, (5, 1, 8, 0), None, None, 8, "hold"),
    ("between thresholds holds", FAST, (30, 5, 3, 2), None, None, 5, "hold"),
    ("above max shrinks to max", DEEP, (0, 0, 1, 7), None, None, 5, "down"),
    ("above max but all busy keeps them", DEEP, (0, 0, 7, 0), None, None, 7, "hold"),
])
def test_policy(label, policy, stats, last_up, last_down, target, action):
    depth, age, busy, idle = stats
    decision = decide(QueueStats("q", depth, age, busy, idle), policy, NOW, last_up, last_down)
    assert (decision.target, decision.action) == (target, action), decision.reason
    assert decision.reason and decision.as_dict()["queue"] == "q"


@pytest.mark.parametrize("kwargs,message", [
    ({"min_workers": 3, "max_workers": 2}, "min <= max"), ({"min_workers": -1, "max_workers": 2}, "min <= max"),
    ({"min_workers": 0, "max_workers": 2, "step": 0}, "at least 1"),
    ({"min_workers": 0, "max_workers": 2, "scale_up_depth": 5, "scale_down_depth": 10}, "must not exceed"),
    ({"min_workers": 0, "max_workers": 2, "down_cooldown": -1}, "negative"),
])
def test_policy_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScalingPolicy(**kwargs)


def test_defaults_follow_the_spec():
    fast, deep = DEFAULT_POLICIES["eda_fast"], DEFAULT_POLICIES["eda_deep"]
    assert (fast.min_workers, fast.max_workers, deep.min_workers, deep.max_workers) == (1, 20, 0, 5)
    assert (fast.scale_up_depth, fast.scale_down_depth) == (50, 10)
