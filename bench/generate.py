"""Generators of messy tabular data for benchmarks and large-file tests."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("normal", "price", "percent", "flag", "category", "count", "skewed", "code")
TOKENS = np.array(["", "NA", "?", "-", "null"])


def _column(kind: str, rows: int, rng: np.random.Generator) -> pd.Series:
    if kind == "normal":
        values = rng.normal(50, 10, rows).round(3)
        values[rng.random(rows) < 0.005] *= 100  # gross errors
        return pd.Series(values)
    if kind == "price":
        values = rng.lognormal(4, 1, rows)
        return pd.Series([f"${v:,.2f}" for v in values])
    if kind == "percent":
        return pd.Series([f"{v:.1f}%" for v in rng.uniform(0, 100, rows)])
    if kind == "flag":
        return pd.Series(rng.choice(["yes", "no", "Y", "N", "true", "False"], rows))
    if kind == "category":
        return pd.Series(rng.choice(["Paris", "paris ", " PARIS", "London", "london", "Berlin", "Rome"], rows))
    if kind == "count":
        return pd.Series(rng.poisson(3, rows))
    if kind == "skewed":
        return pd.Series(rng.exponential(1000, rows).round(2))
    return pd.Series(rng.choice([f"C{i:03d}" for i in range(300)], rows))


def messy_frame(rows: int, columns: int, seed: int = 7, missing: float = 0.08) -> pd.DataFrame:
    """Mixed types stored as text, missing-value tokens, outliers and 1% duplicate rows."""
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(columns):
        kind = KINDS[i % len(KINDS)]
        series = _column(kind, rows, rng).astype(object)
        holes = rng.random(rows) < missing * (1 + (i % 3))
        series[holes] = rng.choice(TOKENS, int(holes.sum()))
        data[f"{kind}_{i}"] = series
    frame = pd.DataFrame(data)
    dupes = rows // 100
    if dupes:
        frame.iloc[rows - dupes:] = frame.iloc[:dupes].to_numpy()
    return frame


def write_csv(path: str | Path, rows: int, columns: int, seed: int = 7) -> Path:
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        messy_frame(rows, columns, seed).to_csv(path, index=False)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=100)
    args = parser.parse_args()
    print(write_csv(args.path, args.rows, args.columns))
