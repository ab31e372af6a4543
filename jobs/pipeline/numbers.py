"""Parsing numbers and booleans written as text: currency, percent, separators, yes/no words."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})
BOOL_WORDS = TRUE_WORDS | FALSE_WORDS
_SYMBOLS = ("$", "€", "£", "¥", "₹", " ", "\u00a0", "'")
_CURRENCY = r"[$€£¥₹\s\x{00a0}']"
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"
# "3,5" or "1.234,56": a comma followed by other than three digits, or dots grouping thousands.
_DECIMAL_COMMA = r"^[+-]?(\d+,\d{1,2}|\d+,\d{4,}|\d{1,3}(\.\d{3})+(,\d+)?)$"
_US_DECIMAL = r"^[+-]?\d{1,3}(,\d{3})+\.\d+$"


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _arrow_text(values: pd.Series) -> pa.Array:
    return pc.utf8_trim_whitespace(pa.array(values.astype("str"), type=pa.large_string(), from_pandas=True))


def _has(text: pa.Array, needle: str) -> bool:
    return bool(pc.any(pc.match_substring(text, needle)).as_py())


def _none(text: pa.Array) -> pa.Array:
    return pa.repeat(pa.scalar(False), len(text))  # "nothing of that kind" for the evidence counts


def looks_like_codes(values: pd.Series) -> bool:
    """Zip codes, account numbers, long ids: digits, but not quantities (leading zeros, or too long for a float)."""
    digits = values.str.match(r"^\d+$")
    zeros = int(values.str.match(r"^0\d+$").sum())
    return bool(digits.mean() >= 0.95 and zeros >= max(1, 0.005 * len(values)) or values.str.match(r"^-?\d{16,}$").any())


def parse_numbers(values: pd.Series) -> tuple[pd.Series, dict]:
    """Parse '$1,200', '12%', '(5.00)', '1 200' and '3,5' as numbers; unparseable become NA.

    Vectorised in Arrow (pandas' regex replace with groups falls back to a Python loop), and
    each rewrite runs only when a cheap substring scan finds its character in the column.
    The decimal comma is decided per column: '1,234' alone is read the US way.
    """
    text = _arrow_text(values)
    negative = currency = percent = thousands = _none(text)
    if _has(text, "("):
        negative = pc.match_substring_regex(text, r"^\(.*\)$")
        text = pc.replace_substring_regex(text, r"^\((.*)\)$", r"\1")
    present = [symbol for symbol in _SYMBOLS if _has(text, symbol)]
    if present:
        currency = pc.match_substring_regex(text, _CURRENCY)
        for symbol in present:  # literal replaces are five times faster than one regex replace
            text = pc.replace_substring(text, symbol, "")
    if _has(text, "%"):
        percent = pc.ends_with(text, "%")
        text = pc.replace_substring(text, "%", "")
    decimal_comma = False
    if _has(text, ","):
        decimal_comma = _count(pc.match_substring_regex(text, _DECIMAL_COMMA)) > 0 and \
            _count(pc.match_substring_regex(text, _US_DECIMAL)) == 0
        if decimal_comma:
            thousands = pc.match_substring_regex(text, r"\.\d{3}(,|$)")
            text = pc.replace_substring(pc.if_else(thousands, pc.replace_substring(text, ".", ""), text), ",", ".")
        else:
            thousands = pc.match_substring_regex(text, _THOUSANDS)
            text = pc.if_else(thousands, pc.replace_substring(text, ",", ""), text)
    valid = pc.match_substring_regex(text, _NUMBER)
    numbers = pc.cast(pc.if_else(valid, text, pa.scalar(None, pa.large_string())), pa.float64())
    if _count(negative):
        numbers = pc.if_else(negative, pc.negate(numbers), numbers)
    evidence = {"currency": _count(currency), "percent": _count(percent),
                "thousands_separators": _count(thousands), "parenthesised_negatives": _count(negative),
                "decimal_comma": decimal_comma}
    return pd.Series(numbers.to_numpy(zero_copy_only=False), index=values.index, dtype="float64"), evidence


def decimal_places(values) -> int:
    """Decimal places numbers are written with (up to 6, judged on the first 1,000), so results look like the data."""
    sample = np.asarray(values, dtype="float64")[:1000]
    for places in range(7):
        if np.allclose(sample, np.round(sample, places), rtol=0, atol=1e-9):
            return places
    return 6


def bool_share(values: pd.Series) -> float:
    return float(values.astype("str").str.strip().str.lower().isin(BOOL_WORDS).mean()) if len(values) else 0.0


def parse_booleans(values: pd.Series) -> pd.Series:
    words = values.astype("str").str.strip().str.lower()
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[words.isin(TRUE_WORDS)] = True
    out[words.isin(FALSE_WORDS)] = False
    return out
