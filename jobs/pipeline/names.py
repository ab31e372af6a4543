"""The words shared by every layer: processing modes, progress stages and log steps (models, API, queues, pages)."""
from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    FAST = "fast"  # heuristics only
    SMART = "smart"  # asks the advisor about the columns with many gaps
    DEEP = "deep"  # asks it about a few, on its own queue, and writes a report


class Stage(StrEnum):
    LOADING = "loading"
    CLEANING = "cleaning"
    EDA = "eda"
    OUTLIERS = "outliers"
    FEATURES = "features"
    SAVING = "saving"


class LogStep(StrEnum):
    CLEANING = "cleaning"
    OUTLIERS = "outliers"
    FEATURES = "features"


MODES = tuple(m.value for m in Mode)
ADVISED = (Mode.SMART, Mode.DEEP)  # the modes that ask the advisor
LOG_STEPS = tuple(step.value for step in LogStep)
