"""Seeded errors of the kinds real exports have, injected into clean real tables, every cell recorded by kind.

Per column (the first column stays the row key; unique numbers are identifiers and left as they are), disjoint cells:
- every column: 1% missing tokens (N/A, ?, null) — values missing at random;
- numbers: 1.5% decimal slips (x10, x100, /1000 in equal parts), 0.5% thousands formatting ("1,234.00");
  the first non-negative integer-free column also gets 0.5% sentinels (-999) and the first positive
  column a unit on 30% of its values ("12.5 kg");
- categorical text: 1% typos (one inner letter replaced), 1% case/space variants, 0.5% placeholders
  ("unknown");
- one dependency X → Y that holds in 98% of the clean table's rows (X a name or code with 8+ groups,
  Y mostly present and not one dominant value): 2% of Y, in groups of three or more, changed to
  another of Y's values (conflicts within an entity).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SLIPS = (10.0, 100.0, 0.001)


def _numeric(series: pd.Series) -> bool:
    return bool(pd.to_numeric(series, errors="coerce").notna().mean() > 0.95)


def _categorical(series: pd.Series) -> bool:
    values = series.dropna()
    return bool(len(values)) and (values.nunique() <= 50 or values.nunique() <= 0.2 * len(values))


def _dependency(frame: pd.DataFrame) -> tuple[str, str] | None:
    columns = [c for c in frame.columns[1:] if _categorical(frame[c]) and frame[c].nunique() >= 2]
    for x in [c for c in columns if not _numeric(frame[c])]:  # an entity key: a name or a code, not a measurement
        sizes = frame[x].value_counts()
        if sizes.median() < 3 or (sizes >= 2).sum() < 8:
            continue
        for y in [c for c in columns if c != x]:
            pairs = frame[[x, y]].dropna()
            agree = pairs.groupby(x)[y].agg(lambda v: v.value_counts().iloc[0]).sum() / max(1, len(pairs))
            if agree >= 0.98 and \
                    frame[y].nunique() < frame[x].nunique() and frame[y].notna().mean() >= 0.5 and \
                    frame[y].value_counts(normalize=True).iloc[0] <= 0.9:
                return x, y
    return None


def inject(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(dirty table as text, injected cells: row, column, kind, clean, dirty)."""
    rng = np.random.default_rng(seed)
    dirty = frame.astype(object).where(frame.notna(), "").astype(str)
    cells: list[tuple[int, str, str, str, str]] = []
    taken = np.zeros(frame.shape, dtype=bool)
    sentinel_done = unit_done = False

    def pick(j: int, share: float) -> np.ndarray:
        free = np.flatnonzero(~taken[:, j] & (dirty.iloc[:, j] != "").to_numpy())
        rows = rng.choice(free, size=min(len(free), int(round(share * len(frame)))), replace=False)
        taken[rows, j] = True
        return np.sort(rows)

    def put(rows, j: int, kind: str, values) -> None:
        col = dirty.columns[j]
        for r, v in zip(rows, values):
            cells.append((int(r), str(col), kind, dirty.iat[r, j], v))
            dirty.iat[r, j] = v

    dependency = _dependency(frame)
    if dependency is not None:
        x, y = dependency
        j = dirty.columns.get_loc(y)
        big = frame[x].map(frame[x].value_counts()) >= 3
        free = np.flatnonzero(big.to_numpy() & (dirty[y] != "").to_numpy())
        rows = np.sort(rng.choice(free, size=min(len(free), int(0.02 * len(frame))), replace=False))
        taken[rows, j] = True
        domain = sorted(dirty[y][dirty[y] != ""].unique())
        put(rows, j, "conflict", [rng.choice([d for d in domain if d != dirty.iat[r, j]]) for r in rows])
    for j, col in enumerate(dirty.columns[1:], start=1):
        values = frame[col]
        put(pick(j, 0.01), j, "missing", rng.choice(["N/A", "?", "null"], len(frame)))
        if _numeric(values) and values.is_unique:
            continue  # a counter or identifier, not a measurement: slips and formats do not apply
        if _numeric(values):
            numbers = pd.to_numeric(values, errors="coerce")
            rows = pick(j, 0.015)
            factors = rng.choice(SLIPS, len(rows))
            put(rows, j, "slip", [repr(float(numbers.iat[r] * f)) for r, f in zip(rows, factors)])
            rows = pick(j, 0.005)
            put(rows, j, "variant", [f"{float(numbers.iat[r]):,.2f}" for r in rows])
            if not sentinel_done and numbers.min() >= 0 and (numbers % 1 != 0).any():
                put(pick(j, 0.005), j, "sentinel", ["-999"] * len(frame))
                sentinel_done = True
            elif not unit_done and numbers.min() > 0:
                rows = pick(j, 0.3)
                put(rows, j, "unit", [f"{dirty.iat[r, j]} kg" for r in rows])
                unit_done = True
        elif _categorical(values):
            rows = [r for r in pick(j, 0.01) if len(dirty.iat[r, j]) >= 5]
            typo = []
            for r in rows:
                v = dirty.iat[r, j]
                k = int(rng.integers(1, len(v) - 1))
                typo.append(v[:k] + rng.choice([c for c in "xqzjk" if c != v[k].lower()]) + v[k + 1:])
            put(rows, j, "typo", typo)
            rows = pick(j, 0.01)
            put(rows, j, "variant", [f" {dirty.iat[r, j].upper()} " for r in rows])
            put(pick(j, 0.005), j, "placeholder", ["unknown"] * len(frame))
    return dirty, pd.DataFrame(cells, columns=["row", "column", "kind", "clean", "dirty"])


def score_kinds(cells: pd.DataFrame, clean: pd.DataFrame, cleaned: pd.DataFrame, norm) -> dict:
    """Per kind: injected, fixed (cleaned equals clean), and for slips the share back inside the column's range."""
    result = {}
    for kind, part in cells.groupby("kind"):
        fixed = inside = 0
        for row, col, truth in zip(part["row"], part["column"], part["clean"]):
            got = cleaned[col].iat[row] if col in cleaned.columns else ""
            fixed += norm(got) == norm(truth)
            if kind == "slip":
                genuine = pd.to_numeric(clean[col], errors="coerce")
                value = pd.to_numeric(pd.Series([got]), errors="coerce").iat[0]
                inside += bool(genuine.min() <= value <= genuine.max())
        result[kind] = {"injected": len(part), "fixed": int(fixed)}
        if kind in ("sentinel", "placeholder"):  # no longer the stand-in: treated as missing (and maybe filled)
            result[kind]["no_longer_stand_in"] = int(sum(
                norm(cleaned[c].iat[r] if c in cleaned.columns else "") != norm(d)
                for r, c, d in zip(part["row"], part["column"], part["dirty"])))
        if kind == "slip":
            result[kind]["inside_genuine_range"] = round(inside / len(part), 4) if len(part) else None
    return result
