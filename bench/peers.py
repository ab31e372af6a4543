"""A peer on the same CSV: skrub's TableReport statistics (run as a whole process by bench/run.py)."""
from __future__ import annotations

import argparse
import json
import sys
import time


def skrub_report(path: str) -> dict:
    started = time.perf_counter()
    try:
        import pandas as pd
        import skrub
    except ImportError as exc:
        return {"skipped": f"skrub not installed: {exc}"}
    imported = time.perf_counter()
    frame = pd.read_csv(path)
    read = time.perf_counter()
    # Default "auto" settings: skrub itself turns plots and associations off above 30 columns.
    report = skrub.TableReport(frame, verbose=0)
    report.json()  # computes the per-column statistics (the summary) without rendering HTML
    done = time.perf_counter()
    return {"skrub": skrub.__version__, "plots": report.plot_distributions,
            "associations": report.compute_associations, "import_s": round(imported - started, 3),
            "read_csv_s": round(read - imported, 3), "report_s": round(done - read, 3)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    print(json.dumps(skrub_report(parser.parse_args().path)))
    sys.exit(0)
