"""in_background: a pure step in a forked child; its result, its error, and a dead child's fallback."""
from __future__ import annotations

import gc
import multiprocessing
import os
import signal

import pandas as pd
import pytest

from jobs.pipeline.background import in_background


def _shape_and_pid(frame: pd.DataFrame) -> tuple[tuple[int, int], int]:
    return frame.shape, os.getpid()


def _fails(message: str) -> None:
    raise ValueError(message)


def _dies_in_a_child(parent: int) -> int:
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
    return 7


def test_result_comes_back_from_a_child_that_shared_the_frame():
    frame = pd.DataFrame({"a": range(1000), "b": ["x"] * 1000})
    shape, pid = in_background(_shape_and_pid, frame)()
    assert shape == (1000, 2) and pid != os.getpid()


def test_without_parallel_it_runs_here():
    assert in_background(_shape_and_pid, pd.DataFrame({"a": [1]}), parallel=False)()[1] == os.getpid()


def test_the_childs_exception_is_raised_by_the_wait():
    wait = in_background(_fails, "bad column")
    with pytest.raises(ValueError, match="bad column"):
        wait()


def test_a_killed_child_is_replaced_by_running_the_step_here(caplog):
    assert in_background(_dies_in_a_child, os.getpid())() == 7
    assert "died" in caplog.text


def _large(size: int) -> bytes:
    return b"x" * size  # more than a pipe holds: the child blocks until someone reads


def test_a_result_nobody_waits_for_does_not_outlive_the_caller():
    """A caller that raised before waiting drops `wait`: its child is stopped, not left blocked in its send (the
    process would hang at exit, joining it)."""
    before = set(multiprocessing.active_children())
    wait = in_background(_large, 1_000_000)
    started = [c for c in multiprocessing.active_children() if c not in before]
    assert len(started) == 1
    del wait
    gc.collect()
    started[0].join(5)
    assert not started[0].is_alive()
