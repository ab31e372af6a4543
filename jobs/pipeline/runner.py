"""run_pipeline: the steps in order, with progress reports and logs grouped by step."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from .clean import drop_duplicates, drop_sparse_columns, impute_missing
from .coerce import repair_types

MODES = ("fast", "smart", "deep")
Progress = Callable[[str, int, str], None]


@dataclass(frozen=True)
class PipelineOptions:
    mode: str = "fast"
    target: str | None = None
    drop_threshold: float = 0.7
    parse_threshold: float = 0.95
    missing_indicators: bool = False

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'fast', 'smart' or 'deep'; got {self.mode!r}")
        for name in ("drop_threshold", "parse_threshold"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1]; got {value!r}")


@dataclass
class PipelineResult:
    frame: pd.DataFrame
    logs: dict[str, list[dict]] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)


def _no_progress(stage: str, percent: int, info: str) -> None:
    return None


def run_pipeline(frame: pd.DataFrame, options: PipelineOptions | None = None,
                 progress: Progress | None = None) -> PipelineResult:
    """Clean a loaded frame; `progress(stage, percent, info)` is told about each step."""
    options = options or PipelineOptions()
    report = progress or _no_progress
    keep = {options.target} if options.target else set()
    rows_in, cols_in = frame.shape

    report("cleaning", 20, f"Repairing types in {cols_in} columns")
    out, type_logs = repair_types(frame, parse_threshold=options.parse_threshold)
    report("cleaning", 35, f"Removing duplicate rows among {rows_in:,}")
    out, dup_logs = drop_duplicates(out)
    out, drop_logs = drop_sparse_columns(out, options.drop_threshold, keep)
    report("cleaning", 50, f"Filling missing values in {out.shape[1]} columns")
    out, fill_logs = impute_missing(out, indicators=options.missing_indicators)

    cleaning = type_logs + dup_logs + drop_logs + fill_logs
    summary = {
        "rows_in": rows_in, "columns_in": cols_in, "rows_out": len(out), "columns_out": out.shape[1],
        "missing_in": int(frame.isna().sum().sum()), "missing_out": int(out.isna().sum().sum()),
        "columns_converted": sum(e["action"].startswith("convert_") for e in type_logs),
        "duplicates_removed": sum(e["count"] for e in dup_logs),
        "columns_dropped": [e["column"] for e in drop_logs],
    }
    return PipelineResult(frame=out, logs={"cleaning": cleaning}, summary=summary)
