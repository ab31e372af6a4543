"""Parsing dates and times of day written as text, without mistaking numbers for dates."""
from __future__ import annotations

import re
import warnings
from typing import Callable

import pandas as pd
from pandas.tseries.api import guess_datetime_format

# A date needs a separator between parts or a month name: bare numbers are never dates.
_DATE_SHAPE = (r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
               r"|\d{1,2}\s+[A-Za-z]{3,9}\.?,?\s+\d{2,4}|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{2,4})"
               r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([AaPp][Mm])?(Z|[+-]\d{2}:?\d{2})?)?\s*$")
MAX_MIXED = 5_000  # distinct values no format of ours fits, read one by one by dateutil at most
_TIME = re.compile(r"^(?P<h>\d{1,2})[:.](?P<m>\d{2})(:(?P<s>\d{2}))?\s*(?P<ampm>[aApP]\.?\s?[mM]\.?)?$")
# A clock time inside other text: '7:10aDec 1', '6:47 p.m. (Estimated runway)', '12/02/2011 6:55 a.m.'.
_TIME_IN_TEXT = re.compile(r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>\d{2})(:(?P<s>\d{2}))?(?!\d)\s*"
                           r"(?P<ampm>[aApP]\.?\s?[mM]\.?|[aApP](?![a-z]))?")
FORMAT_SAMPLE = 200  # distinct values each candidate output format is tried on
GUESSES = 20  # distinct values whose format pandas guesses (0.2 ms each)
CHECK_SAMPLE = 2_000  # distinct values the chosen output format is checked on
_UNPADDED = (("%m", "%-m"), ("%d", "%-d"), ("%H", "%-H"), ("%I", "%-I"))
_CLOCK_FIELDS = ("%H", "%-H", "%I", "%-I")


def looks_like_times(values: pd.Series) -> float:
    """Share of values shaped like a time of day ('7:10 a.m.', '19:45', '07:10:00')."""
    return float(values.astype("str").str.strip().str.match(_TIME.pattern).mean()) if len(values) else 0.0


def parse_times(values: pd.Series) -> tuple[pd.Series, dict]:
    """Times of day as 'HH:MM' (or 'HH:MM:SS' when seconds are written); NA where not a valid time."""
    text = values.astype("str").str.strip()
    unique = pd.Series(text.dropna().unique())
    parts = unique.str.extract(_TIME.pattern)
    # A column of times may carry decoration on some values; one clock time in the value is read, two are not.
    loose = parts["h"].isna() & (unique.str.count(_TIME_IN_TEXT.pattern) == 1)
    if loose.any():
        parts[loose] = unique[loose].str.extract(_TIME_IN_TEXT.pattern)[parts.columns]
    hours = pd.to_numeric(parts["h"], errors="coerce")
    minutes = pd.to_numeric(parts["m"], errors="coerce")
    seconds = pd.to_numeric(parts["s"], errors="coerce")
    ampm = parts["ampm"].str.lower().str[0]
    valid = hours.notna() & (minutes < 60) & (seconds.isna() | (seconds < 60)) & \
        ((ampm.isna() & (hours < 24)) | (ampm.notna() & (hours >= 1) & (hours <= 12)))
    hours = hours.where(ampm.isna(), hours % 12 + (ampm == "p") * 12)
    with_seconds = bool(seconds[valid].notna().any())
    shown = hours.astype("Int64").astype("str").str.zfill(2) + ":" + parts["m"]
    if with_seconds:
        shown = shown + ":" + parts["s"].fillna("00")
    mapping = pd.Series(shown.where(valid).to_numpy(), index=unique.to_numpy())
    result = text.map(mapping).astype(object).where(text.notna())
    result = result.where(result.notna(), None)
    return result, {"twelve_hour": int(ampm[valid].notna().sum()), "seconds": with_seconds,
                    "text_around_time_ignored": int(text.isin(set(unique[loose & valid])).sum())}


_PATTERNS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ",
             "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y", "%m-%d-%Y", "%d-%m-%Y", "%d.%m.%Y",
             "%d.%m.%y", "%d %b %Y", "%b %d, %Y", "%B %d, %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y", "%b %d %Y",
             "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%Y%m%d")


def _variants(pattern: str) -> list[str]:
    found = [pattern]
    for padded, bare in _UNPADDED:
        found += [c.replace(padded, bare) for c in found if padded in c]
    return found


def output_format(text: pd.Series, parsed: pd.Series, dayfirst: bool, counts: pd.Series) -> str | None:
    """A strftime pattern that writes the parsed dates back as most of them were written, if one does.

    Cleaning keeps a column's own representation (`1/1/71` stays `1/1/71`); values written another
    way are rewritten into that dominant format. None: no format holds half the values (write ISO).
    `counts`: how many rows wrote each distinct text, so "most" means rows, not spellings.
    """
    known = parsed.notna().to_numpy()
    values, originals = parsed[known].reset_index(drop=True), text[known].reset_index(drop=True)
    weights = pd.Series(counts.to_numpy()[known], index=originals.index, dtype="float64")
    if values.empty:
        return None
    head, head_text, head_weights = (values.head(FORMAT_SAMPLE), originals.head(FORMAT_SAMPLE),
                                     weights.head(FORMAT_SAMPLE).to_numpy())
    guessed = head_text.head(GUESSES).map(lambda v: guess_datetime_format(v, dayfirst=dayfirst)).dropna()
    best, best_share = None, 0.0
    # Each try formats 200 dates: our own list only when no guess is written by most rows.
    for group in (guessed.unique().tolist(), _PATTERNS):
        for pattern in (v for c in group for v in _variants(c)):
            try:
                same = (head.dt.strftime(pattern) == head_text).to_numpy()
            except ValueError:
                continue
            share = float((head_weights * same).sum() / head_weights.sum())
            if share > best_share:
                best, best_share = pattern, share
            if share == 1.0:
                break
        if best_share >= 0.5:
            break
    if best is None or best_share < 0.5:
        return None
    step = max(1, len(values) // CHECK_SAMPLE)
    same = (values.iloc[::step].dt.strftime(best) == originals.iloc[::step]).to_numpy()
    share = float((weights.iloc[::step] * same).sum() / weights.iloc[::step].sum())
    return best if share >= 0.5 else None


def _century(text: pd.Series, parsed: pd.Series) -> pd.Series:
    """Two-digit years read as the future ('1/1/71' → 2071) are the past century: dates are records."""
    future = parsed > pd.Timestamp.now() + pd.Timedelta(days=366)
    two_digit = text.str.match(r"^\D*\d{1,2}[-/.]\d{1,2}[-/.]\d{2}(\D|$)")
    return parsed.where(~(future & two_digit), parsed - pd.DateOffset(years=100))


def looks_like_dates(values: pd.Series) -> float:
    """Share of values shaped like a date."""
    return float(values.astype("str").str.match(_DATE_SHAPE).mean()) if len(values) else 0.0


def _day_month(values: pd.Series) -> pd.DataFrame:
    return values.astype("str").str.extract(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}").dropna().astype(int)


def day_first(values: pd.Series) -> bool:
    """Whether 'a/b/yyyy' dates put the day first: some first part is above 12, no second part is."""
    parts = _day_month(values)
    if parts.empty:
        return False
    return bool((parts[0] > 12).any() and not (parts[1] > 12).any())


def day_month_order(values: pd.Series, pinned: bool) -> str | None:
    """How the day/month order of 'a/b/yyyy' dates was settled: `shown` by a part above 12, given by the `plan`,
    or `assumed` (every value could be read either way, '01/02/2024'); None when no value is of that shape."""
    parts = _day_month(values)
    if parts.empty or not (parts[0] != parts[1]).any():
        return None
    return "plan" if pinned else "shown" if bool((parts > 12).any().any()) else "assumed"


def _orders(values: pd.Series, dayfirst: bool) -> dict[str, bool]:
    """Day-first or not per separator: a column may mix '28.02.2022' with '02/28/2022'. Without a part
    above 12 to tell, the column's own evidence decides, and dotted dates are day-first (nowhere month-first)."""
    parts = values.str.extract(r"^\s*(\d{1,2})([-/.])(\d{1,2})[-/.]\d{2,4}").dropna()
    orders = {}
    for sep in "/-.":
        mine = parts[parts[1] == sep]
        first, second = bool((mine[0].astype(int) > 12).any()), bool((mine[2].astype(int) > 12).any())
        orders[sep] = (first and not second) or (not second and (dayfirst or (sep == "." and not first)))
    return orders


def _out_of_order(pattern: str, orders: dict[str, bool]) -> bool:
    """The pattern reads day and month the other way round from what the separator's evidence says."""
    return any(f"%m{sep}%d" in pattern if day else f"%d{sep}%m" in pattern for sep, day in orders.items())


def _patterns(values: pd.Series, orders: dict[str, bool], dayfirst: bool) -> list[str]:
    """Formats guessed by pandas on a sample come first (most values fall to the first two or three), then our
    patterns; each separator's day/month order before the other."""
    sample = values.iloc[:: max(1, len(values) // GUESSES)]
    guessed = sample.map(lambda v: guess_datetime_format(v, dayfirst=dayfirst)).dropna().value_counts().index
    return sorted(dict.fromkeys([*guessed, *_PATTERNS]), key=lambda p: _out_of_order(p, orders))


def read_distinct(unique: pd.Series, dayfirst: bool, patterns: Callable[[pd.Series], list[str]]
                  ) -> tuple[pd.Series, list[str]]:
    """Distinct date texts read: ISO 8601 first, then the date-shaped rest with `patterns(rest)` (`read_with`);
    two-digit years moved out of the future. Also the formats that read some value."""
    parsed = pd.to_datetime(unique, format="ISO8601", errors="coerce", utc=True)
    rest = parsed.isna() & unique.str.match(_DATE_SHAPE)
    used: list[str] = []
    if rest.any():
        parsed[rest], used = read_with(unique[rest], patterns(unique[rest]), dayfirst)
    return _century(unique, parsed.dt.tz_localize(None)), used


def read_with(values: pd.Series, patterns: list[str], dayfirst: bool) -> tuple[pd.Series, list[str]]:
    """Each format parsed vectorised over the values still unparsed, in order; dateutil only for a bounded rest
    (it reads one string at a time, 0.06 ms each: at most MAX_MIXED). Also the formats that read some value:
    given those alone, the same values are read the same way (the exported plan script does)."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    left, used = values, []
    for pattern in patterns:
        before = len(left)
        left = _take(out, left, pattern)
        if len(left) < before:
            used.append(pattern)
        if left.empty:
            return out, used
    if len(left) <= MAX_MIXED:
        out[left.index] = pd.to_datetime(left, format="mixed", dayfirst=dayfirst, errors="coerce", utc=True)
    return out, used


def _take(out: pd.Series, left: pd.Series, pattern: str) -> pd.Series:
    """Parse `left` with one format into `out`; what it could not parse."""
    got = pd.to_datetime(left, format=pattern, errors="coerce", utc=True)
    hit = got.notna().to_numpy()
    if hit.any():
        out[left.index[hit]] = got[hit]
    return left[~hit]


def parse_dates(values: pd.Series, pinned: dict | None = None) -> tuple[pd.Series, dict]:
    """Datetimes (NaT where unparseable) and the evidence: formats seen, day-first or not.

    Decided on the distinct values (dates repeat), each format parsed vectorised, then mapped back. `pinned`
    (a plan's: `dayfirst`, `format`) settles what this batch's values leave open: the day/month order where
    no part is above 12, and the format the dates are written back in.
    """
    text = values.astype("str").str.strip()
    unique = pd.Series(text.dropna().unique())
    dayfirst = day_first(unique) if pinned is None or "dayfirst" not in pinned else bool(pinned["dayfirst"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format" is expected here
        parsed, used = read_distinct(unique, dayfirst, lambda rest: _patterns(rest, _orders(rest, dayfirst), dayfirst))
        if not parsed.notna().any():
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"), {"dayfirst": dayfirst}
        mapping = pd.Series(parsed.to_numpy(), index=unique.to_numpy())
        result = pd.to_datetime(text.map(mapping))
        has_time = bool((result.dropna().dt.normalize() != result.dropna()).any())
        distinct = pd.Series(mapping.index, dtype="str")
        kept = (pinned or {}).get("format")
        # A plan's format, if it loses nothing and reads day and month as this batch is read (an edited dayfirst).
        if kept and (not has_time or any(d in kept for d in _CLOCK_FIELDS)) and \
                not _out_of_order(kept.replace("%-", "%"), _orders(unique, dayfirst)):
            shown = kept
        else:
            shown = output_format(distinct, pd.Series(mapping.to_numpy()), dayfirst,
                                  text.value_counts().reindex(distinct))
    order = day_month_order(unique, pinned is not None and "dayfirst" in pinned)
    return result, {"dayfirst": dayfirst, "has_time": has_time, "distinct_dates": int(len(unique)), "format": shown,
                    "formats_read": used,  # besides ISO 8601 (and dateutil's reading of a bounded rest)
                    **({"day_month_order": order} if order else {})}
