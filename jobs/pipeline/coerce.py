"""Type repair step: trim text; numbers, booleans and dates written as text; category variants; roles."""
from __future__ import annotations

import pandas as pd

from .dates import looks_like_dates, parse_dates
from .entries import column_stats, entry
from .numbers import bool_share, looks_like_codes, parse_booleans, parse_numbers
from .profile import CATEGORY_MAX, id_evidence

SAMPLE = 2000  # values tried first: most text columns are ruled out without a full pass
_KINDS = {"currency", "percent", "thousands_separators", "parenthesised_negatives", "decimal_comma", "dayfirst",
          "has_time"}


def is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def _converted(action: str, col: str, series: pd.Series, new: pd.Series, share: float, what: str,
               evidence: dict) -> dict:
    lost = int(new.isna().sum() - series.isna().sum())
    kinds = ", ".join(k.replace("_", " ") for k, v in evidence.items() if k in _KINDS and v)
    return entry(action, column=col, count=int(series.notna().sum()),
                 params={"share_parsed": round(share, 4), "unparseable_to_missing": lost, **evidence},
                 before=column_stats(series), after=column_stats(new),
                 message=f"{share:.0%} of values parse as {what}" + (f" ({kinds})" if kinds else "")
                         + ": converted" + (f"; {lost:,} unparseable values set to missing." if lost else "."))


def _convert(series: pd.Series, col: str, stripped: pd.Series, threshold: float) -> tuple[pd.Series, dict] | None:
    """Try booleans, then numbers, then dates; the first that parses well enough wins."""
    sample = stripped.iloc[:: max(1, len(stripped) // SAMPLE)]
    loose = threshold - 0.05  # sampling noise must not reject a column that qualifies
    if bool_share(sample) >= loose and (share := bool_share(stripped)) >= threshold:
        new = parse_booleans(series)
        return new, _converted("convert_boolean", col, series, new, share, "yes/no words", {})
    if not looks_like_codes(sample) and parse_numbers(sample)[0].notna().mean() >= loose:
        new, evidence = parse_numbers(series)
        share = float(new.notna().sum()) / len(stripped)
        if share >= threshold:
            return new, _converted("convert_numeric", col, series, new, share, "numbers", evidence)
    if looks_like_dates(sample) >= loose:
        new, evidence = parse_dates(series)
        share = float(new.notna().sum()) / len(stripped)
        if share >= threshold:
            return new, _converted("convert_datetime", col, series, new, share, "dates", evidence)
    return None


def unify_variants(series: pd.Series, col: str) -> tuple[pd.Series, dict] | None:
    """Map 'paris', ' PARIS' and 'Paris' to the most frequent spelling."""
    counts = series.value_counts()
    if len(counts) < 2 or len(counts) > max(CATEGORY_MAX, 1000):
        return None
    keys = pd.Series(counts.index.astype("str"), index=counts.index).str.casefold().str.replace(r"\s+", " ",
                                                                                                 regex=True)
    groups = keys.groupby(keys).groups
    mapping = {}
    for members in groups.values():
        if len(members) > 1:
            canonical = max(members, key=lambda m: counts[m])
            mapping.update({m: canonical for m in members if m != canonical})
    if not mapping:
        return None
    new = series.replace(mapping)
    changed = int(series.isin(list(mapping)).sum())
    examples = {str(k): str(v) for k, v in list(mapping.items())[:5]}
    return new, entry("unify_category_variants", column=col, count=changed,
                      params={"variants_merged": len(mapping), "examples": examples},
                      before={"distinct": len(counts)}, after={"distinct": int(new.nunique())},
                      message=f"Merged {len(mapping)} case/spacing variants into their most frequent spelling "
                              f"({changed:,} values), e.g. {next(iter(examples.items()))[0]!r} → "
                              f"{next(iter(examples.items()))[1]!r}.")


def repair_types(frame: pd.DataFrame, *, parse_threshold: float = 0.95) -> tuple[pd.DataFrame, list[dict]]:
    """Convert text columns that hold numbers, booleans or dates; tidy category spellings.

    A column converts when at least `parse_threshold` of its non-missing values parse;
    the rest become missing and the log says how many.
    """
    if not 0 < parse_threshold <= 1:
        raise ValueError(f"parse_threshold must be in (0, 1]; got {parse_threshold!r}")
    out = frame.copy()
    logs: list[dict] = []
    for col in out.columns:
        series = out[col]
        present = series.dropna()
        if is_text(series) and not present.empty:
            text = present.astype("str")
            stripped = text.str.strip()
            changed = int((stripped != text).sum())
            if changed:
                series = out[col] = stripped.reindex(series.index)
                logs.append(entry("trim_whitespace", column=col, count=changed,
                                  message=f"Trimmed surrounding whitespace in {changed:,} values."))
            converted = _convert(series, col, stripped, parse_threshold)
            if converted is not None:
                out[col], log = converted
                logs.append(log)
            elif (unified := unify_variants(series, col)) is not None:
                out[col], log = unified
                logs.append(log)
    return out, logs


def role_notes(frame: pd.DataFrame, roles: dict[str, str]) -> list[dict]:
    """Log entries for the identifier-like and constant columns among `roles`."""
    notes = []
    for col, role in roles.items():
        if role == "id":
            why = id_evidence(frame[col], col)
            notes.append(entry("detect_id_like", column=col, params={"evidence": why},
                               message=f"Looks like an identifier ({why}): kept, not imputed from others, "
                                       "excluded from features."))
        elif role == "constant":
            value = frame[col].dropna().iloc[0] if frame[col].notna().any() else None
            notes.append(entry("detect_constant", column=col, params={"value": None if value is None else str(value)},
                               message="Holds a single value: kept in the cleaned data, excluded from features."))
    return notes
