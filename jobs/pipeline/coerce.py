"""Type repair step: trim text, numbers stored as text, booleans written as words."""
from __future__ import annotations

import pandas as pd

from .entries import column_stats, entry

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})
_CURRENCY = r"[\$€£¥₹\s\u00a0]"
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"


def is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def parse_numbers(values: pd.Series) -> tuple[pd.Series, dict]:
    """Parse '$1,200', '12%', '(5.00)' and '1 200' as numbers; unparseable become NA."""
    text = values.astype("str").str.strip()
    negative = text.str.match(r"^\(.*\)$")
    text = text.str.replace(r"^\((.*)\)$", r"\1", regex=True)
    currency = text.str.contains(_CURRENCY, regex=True)
    text = text.str.replace(_CURRENCY, "", regex=True)
    percent = text.str.endswith("%")
    text = text.str.removesuffix("%")
    thousands = text.str.match(_THOUSANDS)
    text = text.where(~thousands, text.str.replace(",", "", regex=False))
    numbers = pd.to_numeric(text, errors="coerce")
    numbers = numbers.where(~negative, -numbers)
    evidence = {"currency": int(currency.sum()), "percent": int(percent.sum()),
                "thousands_separators": int(thousands.sum()), "parenthesised_negatives": int(negative.sum())}
    return numbers.astype("float64"), evidence


def parse_booleans(values: pd.Series) -> pd.Series:
    words = values.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[words.isin(TRUE_WORDS)] = True
    out[words.isin(FALSE_WORDS)] = False
    return out


def repair_types(frame: pd.DataFrame, *, parse_threshold: float = 0.95) -> tuple[pd.DataFrame, list[dict]]:
    """Convert text columns whose values are numbers or booleans in disguise.

    A column converts when at least `parse_threshold` of its non-missing values parse;
    the rest become missing and the log says how many.
    """
    if not 0 < parse_threshold <= 1:
        raise ValueError(f"parse_threshold must be in (0, 1]; got {parse_threshold!r}")
    out = frame.copy()
    logs: list[dict] = []
    for col in out.columns:
        series = out[col]
        if not is_text(series):
            continue
        present = series.dropna()
        if present.empty:
            continue
        stripped = present.astype("str").str.strip()
        changed = int((stripped != present.astype("str")).sum())
        if changed:
            out[col] = series.where(series.isna(), series.astype("str").str.strip())
            logs.append(entry("trim_whitespace", column=col, count=changed,
                              message=f"Trimmed surrounding whitespace in {changed:,} values."))
        before = column_stats(series)
        words = stripped.str.lower()
        bool_share = words.isin(TRUE_WORDS | FALSE_WORDS).mean()
        if bool_share >= parse_threshold:
            converted = parse_booleans(out[col])
            lost = int(converted.isna().sum() - series.isna().sum())
            out[col] = converted
            logs.append(entry("convert_boolean", column=col, count=len(present),
                              params={"share_parsed": round(float(bool_share), 4), "unparseable_to_missing": lost},
                              before=before, after=column_stats(converted),
                              message=f"{bool_share:.0%} of values are yes/no words: converted to boolean."))
            continue
        numbers, evidence = parse_numbers(out[col])
        parsed = int(numbers.notna().sum())
        share = parsed / len(present)
        if share >= parse_threshold:
            lost = int(len(present) - parsed)
            out[col] = numbers
            kinds = ", ".join(k.replace("_", " ") for k, v in evidence.items() if v) or "plain numbers"
            logs.append(entry("convert_numeric", column=col, count=len(present),
                              params={"share_parsed": round(share, 4), "unparseable_to_missing": lost, **evidence},
                              before=before, after=column_stats(numbers),
                              message=f"{share:.0%} of values parse as numbers ({kinds}): converted to numeric"
                                      + (f"; {lost:,} unparseable values set to missing." if lost else ".")))
    return out, logs
