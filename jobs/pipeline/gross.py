"""Gross errors: a value 10, 100 or 1000 times off (a slipped decimal point) put back where the column and its
related columns say it belongs; values that are merely unusual are left alone."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .entries import column_stats, entry, plain

FAR = 3.5  # robust z on the log scale beyond which a value is a candidate at all
ALONE = 6.0  # without a related column to confirm, a value must be this far out
FITS = 2.0  # after the shift the value lies within this robust z of the column (and of the prediction)
RELATED = 0.7  # |correlation| of log values with another column for it to confirm a shift
SHIFTS = (1, 2, 3, -1, -2, -3)  # powers of ten
MIN_VALUES = 20
CROWD = 0.002  # a value written by more than 0.2% of the rows (and more than twice) is no slip
GAP = 0.3  # log10: the nearest usual value is at least twice (or half) as large
EXAMPLES = 5


def _robust(logs: np.ndarray) -> tuple[float, float]:
    centre = float(np.median(logs))
    spread = 1.4826 * float(np.median(np.abs(logs - centre)))
    return centre, spread


def _isolated(value: float, usual: np.ndarray, repeats: int, crowd: int) -> bool:
    """A slip is a lone value: not written many times over (wind direction 10, month 1), and the usual
    values at least GAP away from it."""
    at = np.searchsorted(usual, value)
    nearest = min(abs(value - usual[j]) for j in (at - 1, at) if 0 <= j < len(usual))
    return repeats <= crowd and nearest >= GAP


def _decimals(values: np.ndarray) -> int:
    for places in range(7):
        if np.allclose(values, np.round(values, places), rtol=0, atol=1e-9):
            return places
    return 6


def _predictor(frame: pd.DataFrame, col: str, columns: list[str], usual: np.ndarray) -> tuple[str, np.ndarray] | None:
    """The related column whose log values best predict this one's on the usual rows, and the prediction."""
    with np.errstate(all="ignore"):
        target = np.log10(frame[col].to_numpy(dtype="float64", na_value=np.nan))
    best = None
    for other in columns:
        if other == col:
            continue
        values = frame[other].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(all="ignore"):
            logs = np.log10(np.where(values > 0, values, np.nan))
        both = usual & np.isfinite(logs) & np.isfinite(target)
        if both.sum() < MIN_VALUES:
            continue
        r = np.corrcoef(logs[both], target[both])[0, 1]
        if np.isfinite(r) and abs(r) >= RELATED and (best is None or abs(r) > best[0]):
            slope, intercept = np.polyfit(logs[both], target[both], 1)
            best = (abs(r), other, intercept + slope * logs)
    return None if best is None else (best[1], best[2])


def repair_gross_errors(frame: pd.DataFrame, columns: list[str], bounds: dict[str, tuple[float, float]] | None = None
                        ) -> tuple[pd.DataFrame, list[dict]]:
    """Undo decimal slips in positive quantity columns; one log entry per column repaired.

    A value qualifies when it lies far out on the log scale, exactly one power of ten brings it inside
    the column's usual range, and a related column (when there is one) predicts the shifted value,
    not the written one. Without a related column the bar is higher (ALONE).
    """
    bounds = bounds or {}
    out = frame.copy()
    logs: list[dict] = []
    for col in columns:
        raw = frame[col].to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(all="ignore"):
            log = np.log10(np.where(raw > 0, raw, np.nan))
        known = np.isfinite(log)
        if known.sum() < MIN_VALUES:
            continue
        centre, spread = _robust(log[known])
        if spread <= 0:
            continue
        z = np.abs(log - centre) / spread
        candidates = np.flatnonzero(known & (z > FAR))
        if not len(candidates):
            continue
        usual = known & (z <= FAR)
        related = _predictor(frame, col, columns, usual)
        residual = None
        if related is not None:
            fit = related[1][usual] - log[usual]
            residual = 1.4826 * float(np.nanmedian(np.abs(fit - np.nanmedian(fit)))) or None
        usual_sorted = np.sort(log[usual])
        crowd = max(2, int(CROWD * known.sum()))
        repeats = pd.Series(raw[candidates]).map(frame[col].value_counts()).to_numpy()
        places = _decimals(raw[usual][:1000])
        rows, shifts = [], []
        for i, times in zip(candidates, repeats):
            fits = [k for k in SHIFTS if abs(log[i] - k - centre) / spread <= FITS]
            if len(fits) != 1 or not _isolated(log[i], usual_sorted, times, crowd):
                continue
            k = fits[0]
            # A slip keeps the digits: 41.4 x10 is 414.0, 12 x1000 is 12000; 4537 is no slipped 4.537.
            shifted = raw[i] / 10.0 ** k
            if k > 0 and places < 6 and abs(shifted - round(shifted, places)) > 1e-9 * max(1.0, abs(shifted)):
                continue
            confirmed = related is not None and residual is not None and np.isfinite(related[1][i])
            if confirmed:
                predicted = related[1][i]
                if abs(log[i] - k - predicted) > FAR * residual or abs(log[i] - predicted) <= 2 * FAR * residual:
                    continue
            # The low tail holds genuine small values a tenth of the usual (22 seats, a 0.75 lb preemie): raising
            # one tenfold needs a witness, and so does a value inside the column's domain (89 in a percentage).
            elif z[i] <= ALONE or k == -1 or col in bounds and bounds[col][0] <= raw[i] <= bounds[col][1]:
                continue
            rows.append(i)
            shifts.append(k)
        if not rows:
            continue
        fixed = np.round(raw[rows] / np.power(10.0, shifts), places + 3)
        column = out[col].copy()
        if pd.api.types.is_integer_dtype(column) and not np.allclose(fixed, np.round(fixed)):
            column = column.astype("float64")
        column.iloc[rows] = np.round(fixed) if pd.api.types.is_integer_dtype(column) else fixed
        out[col] = column
        examples = [{"row": int(r), "from": plain(raw[r]), "to": plain(v), "factor": f"10^{k}"}
                    for r, v, k in list(zip(rows, fixed, shifts))[:EXAMPLES]]
        logs.append(entry("repair_decimal_shift", column=col, count=len(rows),
                          params={"examples": examples, "rows": [int(r) for r in rows[:100]],
                                  "confirmed_by": related[0] if related else None, "far_z": FAR,
                                  "alone_z": ALONE, "fits_z": FITS},
                          before=column_stats(frame[col]), after=column_stats(out[col]),
                          message=f"{len(rows):,} values were a power of ten off the column's range "
                                  + (f"(and off what {related[0]!r} predicts)" if related else "(far outside it)")
                                  + f"; divided back, e.g. {examples[0]['from']} → {examples[0]['to']}."))
    return out, logs
