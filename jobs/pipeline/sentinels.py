"""Disguised missing values: negative stand-ins (-999, -1) set missing on evidence; 9…9 stand-ins (possible
top-codes), impossible-looking zeros and placeholder words ('unknown', 'n.v.') reported and kept."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .entries import entry, is_number, plain

SENTINELS = (-1.0, -9.0, -99.0, -999.0, -9999.0, -99999.0, 99.0, 999.0, 9999.0, 99999.0, 999999.0)
PLACEHOLDERS = frozenset({"unknown", "unk", "n.v.", "n/v", "nv", "not available", "not applicable", "n.a.",
                          "missing", "undefined", "unspecified", "no data", "empty", "blank", "tbd", "not known",
                          "nil", "--", "---", "xxx", "not stated", "not reported", "#n/a", "#value!", "#ref!"})
MIN_REPEATS = 2  # a sentinel is written again and again; one odd value is an outlier's business
HIGH_GAP = 5.0  # a 9…9 sentinel lies at least this many times above the 99th percentile of the other values
ZERO_SIGMA = 4.0  # a zero this many robust sigmas below the median, with no value near it, is impossible
ZERO_SHARE = 0.05  # and no more common than this (zero-inflated counts and rain are real zeros)


def _sentinel_evidence(others: pd.Series, value: float, count: int) -> str | None:
    """`others`: the column without any stand-in candidate (one sentinel must not hide another)."""
    if len(others) < 10 or count < MIN_REPEATS:
        return None
    if value < 0 and others.min() >= 0:
        return f"{plain(value)} appears {count} times in a column whose other values are never negative"
    if value > 0 and value > HIGH_GAP * max(float(others.quantile(0.99)), 1e-12) and others.max() < value:
        return f"{plain(value)} appears {count} times, {value / others.quantile(0.99):.0f}× above the other values"
    return None


def _impossible_zero(others: pd.Series, zeros: int) -> str | None:
    positive = others[others > 0]
    if not zeros or zeros < MIN_REPEATS or zeros > ZERO_SHARE * (len(others) + zeros) or len(positive) < 20 or \
            (others < 0).any():
        return None
    median = float(positive.median())
    spread = 1.4826 * float((positive - median).abs().median())
    if spread > 0 and median / spread >= ZERO_SIGMA and positive.min() >= 0.25 * median:
        return (f"0 appears {zeros} times while every other value is at least {plain(positive.min())} "
                f"({median / spread:.0f} robust sigmas below the median {plain(median)})")
    return None


def find_disguised_missing(frame: pd.DataFrame, roles: dict[str, str], pinned: dict[str, list] | None = None
                           ) -> tuple[pd.DataFrame, list[dict]]:
    """Set numeric sentinels missing (logged with evidence); report placeholder words in text columns.
    `pinned` (an applied plan's stand-ins per column) are set missing instead: none are looked for afresh."""
    out = frame.copy(deep=False)  # copy-on-write: columns are copied only where a value changes
    logs: list[dict] = []
    for col in frame.columns:
        role = roles.get(str(col))
        series = frame[col]
        if pinned is not None and role == "numeric" and is_number(series):
            mask = series.isin(pinned.get(str(col), []))
            if mask.any():
                out[col] = series.where(~mask)
                logs.append(entry("disguised_missing", column=col, count=int(mask.sum()), source="plan",
                                  params={"values": pinned[str(col)], "evidence": ["the applied plan's stand-in"]},
                                  message=f"{int(mask.sum()):,} cells held a stand-in for a missing value the plan "
                                          f"names ({', '.join(map(str, pinned[str(col)]))}): set missing."))
            continue
        if role == "numeric" and is_number(series):
            values = series.dropna().astype("float64")
            array = values.to_numpy()
            counts = pd.Series(array[np.isin(array, SENTINELS + (0.0,))]).value_counts()
            if counts.empty:
                continue
            others = values[~np.isin(array, SENTINELS + (0.0,))]
            found = {}
            for value in SENTINELS:
                if value in counts.index and (why := _sentinel_evidence(others, value, int(counts[value]))):
                    found[value] = why
            if 0.0 in counts.index and (why := _impossible_zero(others, int(counts[0.0]))):
                found[0.0] = why
            # A 9…9 far above the rest may be a top-code (adult's capital gain of 99999 means "99999 or more"), a
            # zero far below it a real reading or a data error (diamonds measured at 0 mm): reported, kept. A
            # negative stand-in in a column that is never negative is not data.
            doubtful = {v: why for v, why in found.items() if v >= 0}
            if doubtful:
                logs.append(entry("possible_sentinel", column=col, count=int(series.isin(list(doubtful)).sum()),
                                  params={"values": [plain(v) for v in doubtful], "evidence": list(doubtful.values())},
                                  message="; ".join(doubtful.values()) + ": perhaps a stand-in for a missing value. "
                                          "Kept; declare it with na_values to treat it as missing."))
            found = {v: why for v, why in found.items() if v < 0}
            if not found:
                continue
            mask = series.isin(list(found))
            out[col] = series.where(~mask)
            logs.append(entry("disguised_missing", column=col, count=int(mask.sum()),
                              params={"values": [plain(v) for v in found], "evidence": list(found.values())},
                              message=f"{int(mask.sum()):,} cells held a stand-in for a missing value ("
                                      + "; ".join(found.values()) + "): set missing."))
        elif role in ("categorical", "text") and not pd.api.types.is_numeric_dtype(series):
            words = series.dropna().astype("str").str.strip().str.lower()
            hits = words[words.isin(PLACEHOLDERS)].value_counts()
            if hits.empty:
                continue
            shown = ", ".join(f"{w!r} ({n})" for w, n in hits.items())
            logs.append(entry("placeholder_kept", column=col, count=int(hits.sum()),
                              params={"placeholders": {str(k): int(v) for k, v in hits.items()}},
                              message=f"Placeholder words that often mean 'missing': {shown}. Kept as written (they "
                                      "may be a real answer); declare them with na_values to treat them as missing."))
    return out, logs
