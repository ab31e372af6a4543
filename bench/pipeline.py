"""Pipeline speed and peak memory per step on a generated messy file (run in a fresh process)."""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from harness.generate import SHAPES
from jobs.pipeline.load import inspect, load_step
from jobs.pipeline.runner import PipelineOptions, run_pipeline

DATA = Path(__file__).resolve().parent / "data"
STEPS = {15: "types", 30: "duplicates+sparse+sentinels", 35: "eda (plots)", 45: "dependencies+slips",
         50: "missing values", 65: "outliers",
         78: "features", 88: "waiting for eda"}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def data_path(rows: int, columns: int, shape: str) -> Path:
    return DATA / f"{shape}_{rows}x{columns}.csv"


def measure(rows: int, columns: int, mode: str, shape: str) -> dict:
    path = data_path(rows, columns, shape)
    if not path.exists():  # generate in another process: its peak memory must not count here
        subprocess.run([sys.executable, "-m", "harness.generate", str(path), "--rows", str(rows),
                        "--columns", str(columns), "--shape", shape], check=True, capture_output=True)
    base = rss_mb()
    started = time.perf_counter()
    info = inspect(path, path.name)
    validate_s = time.perf_counter() - started
    after_validate = rss_mb()
    started = time.perf_counter()
    frame, _ = load_step(path, info)
    load_s = time.perf_counter() - started
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    after_load = rss_mb()
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    result = run_pipeline(frame, PipelineOptions(mode=mode), parallel=True,
                          progress=lambda stage, pct, info: marks.append((STEPS.get(pct, stage), time.perf_counter())))
    total = time.perf_counter() - started
    ends = [t for _, t in marks[1:]] + [started + total]
    steps = {name: round(end - t, 3) for (name, t), end in zip(marks, ends)}
    peak = rss_mb()
    return {"rows": rows, "columns": columns, "mode": mode, "shape": shape, "file_mb": round(path.stat().st_size / 2**20, 1),
            "upload_validation_s": round(validate_s, 3), "load_s": round(load_s, 3), "steps_s": steps,
            "pipeline_s": round(total, 3), "loaded_frame_mb": round(frame_mb, 1),
            "peak_rss_mb": round(peak, 1), "rss_before_load_mb": round(after_validate, 1),
            "process_baseline_mb": round(base, 1),
            "peak_over_frame": round((peak - after_validate) / frame_mb, 2) if peak > after_validate else None,
            "pipeline_peak_over_frame": round((peak - after_load) / frame_mb + 1, 2),
            "features": result.features.shape[1], "missing_left": int(result.frame.isna().sum().sum())}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--mode", default="fast")
    parser.add_argument("--shape", choices=SHAPES, default="realistic")
    args = parser.parse_args()
    print(json.dumps(measure(args.rows, args.columns, args.mode, args.shape)))
    sys.exit(0)
