"""Gross errors: a value 10, 100 or 1000 times off (a slipped decimal point) put back where the column and its
related columns say it belongs; values that are merely unusual are left alone."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .correlations import pearson_with
from .entries import column_stats, entry, plain
from .numbers import decimal_places

FAR = 3.5  # robust z on the log scale beyond which a value is a candidate at all
ALONE = 6.0  # without a related column to confirm, a value must be this far out
FITS = 2.0  # after the shift the value lies within this robust z of the column (and of the prediction)
RELATED = 0.7  # |correlation| of log values with another column for it to confirm a shift
SHIFTS = (1, 2, 3, -1, -2, -3)  # powers of ten
MIN_VALUES = 20
SAMPLE_ROWS = 5_000  # rows the related columns are looked for on (r to about ±0.01)
ZERO_SHARE = 0.2  # as the outlier step: a column this often zero needs a witness for any slip
CROWD = 0.002  # a value written by more than 0.2% of the rows (and more than twice) is no slip
# A slip is a lone value: not written many times over (wind direction 10, month 1), the usual values GAP away.
GAP = 0.3  # log10: the nearest usual value is at least twice (or half) as large
EXAMPLES = 5


def _robust(logs: np.ndarray) -> tuple[float, float]:
    centre = float(np.median(logs))
    spread = 1.4826 * float(np.median(np.abs(logs - centre)))
    return centre, spread


def _sign(raw: np.ndarray) -> int:
    """+1 or -1 when 99% of the non-zero values share that sign (longitudes west), else 0: a column crossing
    zero (temperatures) has no log scale, and 0.15 °C is no slipped 15."""
    nonzero = raw[np.isfinite(raw) & (raw != 0)]
    share = float((nonzero > 0).mean()) if len(nonzero) else 0.0
    return 1 if share >= 0.99 else -1 if share <= 0.01 and len(nonzero) else 0


def _logs(values: pd.Series) -> np.ndarray:
    """log10 of the values' magnitudes on the column's side of zero (NaN elsewhere, all NaN across zero)."""
    raw = values.to_numpy(dtype="float64", na_value=np.nan)
    raw = raw * _sign(raw)
    with np.errstate(all="ignore"):
        return np.log10(np.where(raw > 0, raw, np.nan))


def _predictor(frame: pd.DataFrame, col: str, target: np.ndarray, sampled: pd.DataFrame, sample: np.ndarray,
               usual: np.ndarray) -> tuple[str, np.ndarray] | None:
    """The related column whose log values best predict this one's on the usual rows, and the prediction.

    Correlations are measured on the sampled rows' logs; only the chosen column is fitted on every usual row.
    """
    rows = usual[sample]
    others = [c for c in sampled.columns if c != col]
    if not others:
        return None
    r, n = pearson_with(sampled[col].to_numpy()[rows], sampled[others].to_numpy()[rows])
    r = np.where(n >= MIN_VALUES, np.abs(r), np.nan)
    if not (r >= RELATED).any():
        return None
    other = others[int(np.nanargmax(r))]
    predictor = _logs(frame[other])
    both = usual & np.isfinite(predictor) & np.isfinite(target)
    slope, intercept = np.polyfit(predictor[both], target[both], 1)
    return other, intercept + slope * predictor


def repair_gross_errors(frame: pd.DataFrame, columns: list[str], bounds: dict[str, tuple[float, float]] | None = None
                        ) -> tuple[pd.DataFrame, list[dict]]:
    """Undo decimal slips in positive quantity columns; one log entry per column repaired.

    A value qualifies when it lies far out on the log scale, exactly one power of ten brings it inside
    the column's usual range, and a related column (when there is one) predicts the shifted value,
    not the written one. Without a related column the bar is higher (ALONE).
    """
    bounds = bounds or {}
    out = frame.copy(deep=False)  # copy-on-write: columns are copied only where a value changes
    logs: list[dict] = []
    sample = np.sort(np.random.default_rng(0).choice(len(frame), min(len(frame), SAMPLE_ROWS), replace=False))
    sampled = None  # log values of the sampled rows, made when a column first needs a witness
    for col in columns:
        raw = frame[col].to_numpy(dtype="float64", na_value=np.nan)
        log = _logs(frame[col])
        known = np.isfinite(log)
        if known.sum() < MIN_VALUES:
            continue
        sampled_known = log[sample][np.isfinite(log[sample])]
        centre, spread = _robust(sampled_known if len(sampled_known) >= MIN_VALUES else log[known])
        if spread <= 0:
            continue
        z = np.abs(log - centre) / spread
        candidates, usual = np.flatnonzero(known & (z > FAR)), known & (z <= FAR)
        if not len(candidates) or not usual.any():
            continue
        places = decimal_places(raw[usual])
        shaped = _slips(raw, log, candidates, usual, (centre, spread), places, int(known.sum()))
        if not shaped:
            continue
        if sampled is None:
            sampled = pd.DataFrame({c: _logs(frame[c].iloc[sample]) for c in columns})
        related = _predictor(frame, col, log, sampled, sample, usual)
        rows, shifts = _witnessed(shaped, related, raw, log, z, usual, bounds.get(col))
        if rows:
            fixed = _shift_back(out, col, raw, rows, shifts, places)
            logs.append(_logged(frame, out, col, raw, rows, fixed, shifts, related))
    return out, logs


def _slips(raw: np.ndarray, log: np.ndarray, candidates: np.ndarray, usual: np.ndarray, scale: tuple[float, float],
           places: int, known: int) -> list[tuple[int, int]]:
    """(row, power of ten) of the far values shaped like a decimal slip, and alone where they are."""
    centre, spread = scale
    # Candidates a single power of ten brings home with their digits kept (41.4 x10 is 414.0, 12 x1000 is
    # 12000; 4537 is no slipped 4.537)...
    ks = np.array(SHIFTS, dtype=float)
    fitting = np.abs(log[candidates, None] - ks[None, :] - centre) / spread <= FITS
    k_of = ks[fitting.argmax(axis=1)].astype(int)
    shifted = raw[candidates] / np.power(10.0, k_of)
    digits = (k_of <= 0) | (places >= 6) | \
        (np.abs(shifted - np.round(shifted, places)) <= 1e-9 * np.maximum(1.0, np.abs(shifted)))
    slip_shaped = (fitting.sum(axis=1) == 1) & digits
    if not slip_shaped.any():
        return []
    # ...and alone where they are: at least GAP from every value that looks genuine, the usual ones and the
    # far ones whose digits say no slip made them (capital gains of 27,828 and 34,095 make 41,310 a tail).
    genuine = np.sort(np.r_[log[usual], log[candidates[fitting.any(axis=1) & ~digits]]])
    candidates, k_of = candidates[slip_shaped], k_of[slip_shaped]
    # Equal values have equal z: a candidate's value occurs only among the candidates.
    _, inverse, counts = np.unique(raw[candidates], return_inverse=True, return_counts=True)
    at = np.searchsorted(genuine, log[candidates])
    below = np.abs(log[candidates] - genuine[np.clip(at - 1, 0, len(genuine) - 1)])
    above = np.abs(log[candidates] - genuine[np.clip(at, 0, len(genuine) - 1)])
    keep = (counts[inverse] <= max(2, int(CROWD * known))) & (np.minimum(below, above) >= GAP)
    return list(zip(candidates[keep], k_of[keep]))


def _witnessed(shaped: list[tuple[int, int]], related, raw: np.ndarray, log: np.ndarray, z: np.ndarray,
               usual: np.ndarray, domain: tuple[float, float] | None) -> tuple[list[int], list[int]]:
    """The slips a related column confirms, or, without one, those far enough out to need no witness."""
    residual = None
    if related is not None:
        fit = related[1][usual] - log[usual]
        residual = 1.4826 * float(np.nanmedian(np.abs(fit - np.nanmedian(fit)))) or None
    # Mostly zeros (capital gains, rain): the few amounts are a sparse, heavy tail, no usual range to slip from.
    sparse_tail = float((raw[np.isfinite(raw)] == 0).mean()) >= ZERO_SHARE
    rows, shifts = [], []
    for i, k in shaped:
        confirmed = related is not None and residual is not None and np.isfinite(related[1][i])
        if confirmed:
            predicted = related[1][i]
            if abs(log[i] - k - predicted) > FAR * residual or abs(log[i] - predicted) <= 2 * FAR * residual:
                continue
        # The low tail holds genuine small values a tenth of the usual (22 seats, a 0.75 lb preemie): raising
        # one tenfold needs a witness, and so does a value inside the column's domain (89 in a percentage)
        # or in a column that is mostly zeros.
        elif z[i] <= ALONE or k == -1 or sparse_tail or domain is not None and domain[0] <= raw[i] <= domain[1]:
            continue
        rows.append(i)
        shifts.append(k)
    return rows, shifts


def _shift_back(out: pd.DataFrame, col: str, raw: np.ndarray, rows: list[int], shifts: list[int], places: int
                ) -> np.ndarray:
    fixed = np.round(raw[rows] / np.power(10.0, shifts), places + 3)
    column = out[col].copy()
    if pd.api.types.is_integer_dtype(column) and not np.allclose(fixed, np.round(fixed)):
        column = column.astype("float64")
    column.iloc[rows] = np.round(fixed) if pd.api.types.is_integer_dtype(column) else fixed
    out[col] = column
    return fixed


def _logged(frame: pd.DataFrame, out: pd.DataFrame, col: str, raw: np.ndarray, rows: list[int], fixed: np.ndarray,
            shifts: list[int], related) -> dict:
    examples = [{"row": int(r), "from": plain(raw[r]), "to": plain(v), "factor": f"10^{k}"}
                for r, v, k in list(zip(rows, fixed, shifts))[:EXAMPLES]]
    return entry("repair_decimal_shift", column=col, count=len(rows),
                 params={"examples": examples, "rows": [int(r) for r in rows[:100]],
                         "confirmed_by": related[0] if related else None, "far_z": FAR,
                         "alone_z": ALONE, "fits_z": FITS},
                 before=column_stats(frame[col]), after=column_stats(out[col]),
                 message=f"{len(rows):,} values were a power of ten off the column's range "
                         + (f"(and off what {related[0]!r} predicts)" if related else "(far outside it)")
                         + f"; divided back, e.g. {examples[0]['from']} → {examples[0]['to']}.")
