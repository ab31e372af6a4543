"""Type repair step: trim text, numbers stored as text, booleans written as words."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .entries import column_stats, entry

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})
_CURRENCY = r"[$€£¥₹\s\x{00a0}]"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
SAMPLE = 2000  # values tried first: most text columns are ruled out without a full pass


def is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


def parse_numbers(values: pd.Series) -> tuple[pd.Series, dict]:
    """Parse '$1,200', '12%', '(5.00)' and '1 200' as numbers; unparseable become NA.

    Vectorised in Arrow: pandas' regex replace with groups falls back to a Python loop.
    """
    text = pc.utf8_trim_whitespace(pa.array(values.astype("str"), type=pa.large_string(), from_pandas=True))
    negative = pc.match_substring_regex(text, r"^\(.*\)$")
    text = pc.replace_substring_regex(text, r"^\((.*)\)$", r"\1")
    currency = pc.match_substring_regex(text, _CURRENCY)
    text = pc.replace_substring_regex(text, _CURRENCY, "")
    percent = pc.ends_with(text, "%")
    text = pc.replace_substring_regex(text, "%$", "")
    thousands = pc.match_substring_regex(text, _THOUSANDS)
    text = pc.if_else(thousands, pc.replace_substring(text, ",", ""), text)
    valid = pc.match_substring_regex(text, _NUMBER)
    numbers = pc.cast(pc.if_else(valid, text, pa.scalar(None, pa.large_string())), pa.float64())
    numbers = pc.if_else(negative, pc.negate(numbers), numbers)
    evidence = {"currency": _count(currency), "percent": _count(percent),
                "thousands_separators": _count(thousands), "parenthesised_negatives": _count(negative)}
    return pd.Series(numbers.to_numpy(zero_copy_only=False), index=values.index, dtype="float64"), evidence


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
        text = present.astype("str")
        stripped = text.str.strip()
        changed = int((stripped != text).sum())
        if changed:
            out[col] = stripped.reindex(series.index)
            logs.append(entry("trim_whitespace", column=col, count=changed,
                              message=f"Trimmed surrounding whitespace in {changed:,} values."))
        sample = stripped.iloc[:: max(1, len(stripped) // SAMPLE)]
        loose = parse_threshold - 0.05  # sampling noise must not reject a column that qualifies
        could_be_bool = sample.str.lower().isin(TRUE_WORDS | FALSE_WORDS).mean() >= loose
        could_be_number = parse_numbers(sample)[0].notna().mean() >= loose
        if not (could_be_bool or could_be_number):
            continue
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
