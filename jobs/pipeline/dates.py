"""Parsing dates written as text in mixed formats, without mistaking numbers for dates."""
from __future__ import annotations

import warnings

import pandas as pd

# A date needs a separator between parts or a month name: bare numbers are never dates.
_DATE_SHAPE = (r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
               r"|\d{1,2}\s+[A-Za-z]{3,9}\.?,?\s+\d{2,4}|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{2,4})"
               r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([AaPp][Mm])?(Z|[+-]\d{2}:?\d{2})?)?\s*$")
MAX_UNIQUE = 200_000  # unique strings parsed one by one at most; beyond, only fast formats


def looks_like_dates(values: pd.Series) -> float:
    """Share of values shaped like a date."""
    return float(values.astype("str").str.match(_DATE_SHAPE).mean()) if len(values) else 0.0


def day_first(values: pd.Series) -> bool:
    """Whether 'a/b/yyyy' dates put the day first: some first part is above 12, no second part is."""
    parts = values.astype("str").str.extract(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}").dropna().astype(int)
    if parts.empty:
        return False
    return bool((parts[0] > 12).any() and not (parts[1] > 12).any())


def parse_dates(values: pd.Series) -> tuple[pd.Series, dict]:
    """Datetimes (NaT where unparseable) and the evidence: formats seen, day-first or not."""
    text = values.astype("str").str.strip()
    unique = pd.Series(text.dropna().unique())
    dayfirst = day_first(unique)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format" is expected here
        parsed = pd.to_datetime(unique, format="ISO8601", errors="coerce", utc=True)
        rest = parsed.isna() & unique.str.match(_DATE_SHAPE)
        if rest.any() and rest.sum() <= MAX_UNIQUE:
            parsed[rest] = pd.to_datetime(unique[rest], format="mixed", dayfirst=dayfirst, errors="coerce",
                                          utc=True)
    parsed = parsed.dt.tz_localize(None)
    if not parsed.notna().any():
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"), {"dayfirst": dayfirst}
    mapping = pd.Series(parsed.to_numpy(), index=unique.to_numpy())
    result = pd.to_datetime(text.map(mapping))
    has_time = bool((result.dropna().dt.normalize() != result.dropna()).any())
    return result, {"dayfirst": dayfirst, "has_time": has_time, "distinct_dates": int(len(unique))}
