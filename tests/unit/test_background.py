"""in_background: a pure step in a forked child; its result, its error, and a dead child's fallback."""
from __future__ import annotations

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
