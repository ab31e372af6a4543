"""Generated messy tables for benchmarks and large-file tests: a realistic shape (default) and the older simple one."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SHAPES = ("realistic", "simple")
KINDS = ("normal", "price", "percent", "flag", "category", "count", "skewed", "code")
TOKENS = np.array(["", "NA", "?", "-", "null"])
# The realistic shape per 100 columns, spread evenly so a narrow file still gets every kind early.
REALISTIC = (["float"] * 38 + ["unit"] * 2 + ["int"] * 20 + ["category"] * 20 + ["id"] * 10 + ["date"] * 5
             + ["yesno"] * 3 + ["constant", "money"])
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%b %d, %Y", "%Y%m%d", "%d %B %Y")
CITIES = ["Paris", "London", "Berlin", "Rome", "Madrid", "Lisbon", "Vienna", "Prague", "Dublin", "Oslo",
          "Athens", "Warsaw", "Brussels", "Amsterdam", "Zurich", "Geneva", "Milan", "Munich", "Lyon", "Porto"]


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


def _variants(words: list[str]) -> list[str]:
    """Each word as people type it: mostly as is, sometimes lower/upper case or with stray spaces."""
    out = []
    for word in words:
        out += [word] * 12 + [word.lower(), word.upper(), f" {word}", f"{word} "]
    return out


def _ids(n: int, rows: int, rng: np.random.Generator) -> pd.Series:
    shape = n % 5
    if shape == 0:  # a running key
        return pd.Series(np.arange(1, rows + 1) + 10_000)
    if shape == 1:  # ZIP codes: repeated, leading zeros
        return pd.Series(np.char.zfill(rng.integers(501, 99_950, 3_000).astype(str), 5)[rng.integers(0, 3_000, rows)])
    if shape == 2:  # phone numbers
        return pd.Series([f"+1 ({a}) {b}-{c:04d}" for a, b, c in zip(rng.integers(200, 999, rows),
                                                                   rng.integers(200, 999, rows),
                                                                   rng.integers(0, 10_000, rows))])
    if shape == 3:  # account numbers with a prefix
        return pd.Series([f"ACC-{v:08d}" for v in rng.integers(0, 10**8, rows)])
    return pd.Series([f"{v:016x}"[-12:] for v in rng.integers(0, 2**62, rows)])  # hex tokens


def _dates(n: int, rows: int, rng: np.random.Generator) -> pd.Series:
    """Days over ten years, written in 2–5 formats (the first format for most rows)."""
    days = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3_650, rows), unit="D")
    # Never both day-first and month-first in one column: that would be ambiguous for anyone.
    pool = [f for f in DATE_FORMATS if f != ("%m/%d/%Y" if n % 2 else "%d/%m/%Y")]
    formats = [pool[(n + k) % len(pool)] for k in range(2 + n % 4)]
    which = rng.choice(len(formats), rows, p=[0.6] + [0.4 / (len(formats) - 1)] * (len(formats) - 1))
    out = np.empty(rows, dtype=object)
    for k, fmt in enumerate(formats):
        picked = which == k
        out[picked] = days[picked].strftime(fmt)
    return pd.Series(out)


def _realistic_column(kind: str, n: int, rows: int, rng: np.random.Generator) -> pd.Series:
    if kind == "float":
        values = (rng.normal(rng.uniform(-50, 500), rng.uniform(1, 80), rows) if n % 3 else
                  rng.lognormal(rng.uniform(1, 6), 0.8, rows)).round(rng.integers(1, 5))
        values[rng.random(rows) < 0.002] *= 100  # gross errors
        return pd.Series(values)
    if kind == "unit":
        return pd.Series([f"{v:.1f} kg" if u else f"{v:.1f}" for v, u in
                          zip(rng.normal(70, 12, rows), rng.random(rows) < 0.3)])
    if kind == "int":
        return pd.Series(rng.poisson(rng.uniform(1, 40), rows) if n % 2 else rng.integers(1950, 2024, rows))
    if kind == "category":
        words = CITIES[: 3 + (n * 7) % len(CITIES)]
        return pd.Series(rng.choice(_variants(words), rows))
    if kind == "id":
        return _ids(n, rows, rng)
    if kind == "date":
        return _dates(n, rows, rng)
    if kind == "yesno":
        return pd.Series(rng.choice(["yes", "no", "Yes", "NO", "Y", "N"], rows, p=[.4, .4, .05, .05, .05, .05]))
    if kind == "constant":
        return pd.Series(["v1"] * rows)
    return pd.Series([f"${v:,.2f}" for v in rng.lognormal(5, 1.2, rows)])  # money


def realistic_frame(rows: int, columns: int, seed: int = 7, missing: float = 0.04) -> pd.DataFrame:
    """The shape of a real export: floats with gross errors, counts, categories typed in several ways, id
    columns of several shapes, dates mixing formats, yes/no, a constant, money and a unit; missing tokens
    and 1% duplicate rows."""
    rng = np.random.default_rng(seed)
    kinds = [REALISTIC[i * len(REALISTIC) // columns] for i in range(columns)] if columns <= len(REALISTIC) else \
        [REALISTIC[i % len(REALISTIC)] for i in range(columns)]
    data = {}
    for i, kind in enumerate(kinds):
        series = _realistic_column(kind, i, rows, rng).astype(object)
        if kind not in ("id", "constant"):
            holes = rng.random(rows) < missing * (1 + (i % 4))
            series[holes] = rng.choice(TOKENS, int(holes.sum()))
        data[f"{kind}_{i}"] = series
    return _duplicated(pd.DataFrame(data))


def messy_frame(rows: int, columns: int, seed: int = 7, missing: float = 0.08) -> pd.DataFrame:
    """The simple shape: mixed types stored as text, missing-value tokens, outliers and 1% duplicate rows."""
    rng = np.random.default_rng(seed)
    data = {}
    for i in range(columns):
        kind = KINDS[i % len(KINDS)]
        series = _column(kind, rows, rng).astype(object)
        holes = rng.random(rows) < missing * (1 + (i % 3))
        series[holes] = rng.choice(TOKENS, int(holes.sum()))
        data[f"{kind}_{i}"] = series
    return _duplicated(pd.DataFrame(data))


def _duplicated(frame: pd.DataFrame) -> pd.DataFrame:
    rows = len(frame)
    dupes = rows // 100
    if dupes:
        frame.iloc[rows - dupes:] = frame.iloc[:dupes].to_numpy()
    return frame


def write_csv(path: str | Path, rows: int, columns: int, seed: int = 7, shape: str = "realistic") -> Path:
    """The generated file at `path` (made once: an existing file is reused)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}; got {shape!r}")
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        make = realistic_frame if shape == "realistic" else messy_frame
        make(rows, columns, seed).to_csv(path, index=False)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=100)
    parser.add_argument("--shape", choices=SHAPES, default="realistic")
    args = parser.parse_args()
    print(write_csv(args.path, args.rows, args.columns, shape=args.shape))
