"""Numbers written with a unit ('12.0 oz', '16 ounce', '1.5 l', '37 patients'): parsed, converted to one unit."""
from __future__ import annotations

import re

import pandas as pd

# unit word → (dimension, size in the dimension's base unit). 'oz' is mass or volume: decided by its company.
_UNITS = {
    "mass": ({"mg": 1e-3, "g": 1.0, "gr": 1.0, "gram": 1.0, "kg": 1e3, "kilo": 1e3, "kilogram": 1e3, "t": 1e6,
              "tonne": 1e6, "lb": 453.59237, "lbs": 453.59237, "pound": 453.59237}),
    "volume": ({"ml": 1.0, "cl": 10.0, "dl": 100.0, "l": 1e3, "ltr": 1e3, "litre": 1e3, "liter": 1e3,
                "floz": 29.5735295625, "gal": 3785.411784, "gallon": 3785.411784, "pint": 473.176473,
                "cup": 236.5882365}),
    "length": ({"mm": 1e-3, "cm": 1e-2, "m": 1.0, "km": 1e3, "in": 0.0254, "inch": 0.0254, "ft": 0.3048,
                "feet": 0.3048, "foot": 0.3048, "yd": 0.9144, "mi": 1609.344, "mile": 1609.344, "metre": 1.0,
                "meter": 1.0}),
    "duration": ({"ms": 1e-3, "s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0,
                  "hr": 3600.0, "hour": 3600.0, "day": 86400.0, "d": 86400.0, "week": 604800.0, "wk": 604800.0,
                  "month": 2629746.0, "mo": 2629746.0, "year": 31556952.0, "yr": 31556952.0}),
}
_OUNCE = {"mass": 28.349523125, "volume": 29.5735295625}
_KNOWN = {word: (dimension, size) for dimension, table in _UNITS.items() for word, size in table.items()}
# A number, then a unit of one or two words ('fl oz'), an optional dot, then anything ('12.0 oz. Alumi-Tek').
_VALUE = re.compile(r"^\s*(?P<n>[+-]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+))\s*"
                    r"(?P<u>[a-zµ]+(?:\s[a-z]+)?)(?P<rest>\b.*)?$", re.IGNORECASE)
_BARE = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d+)?|\.\d+)\s*$")
_BARE_ONLY = frozenset({"in", "m", "s", "t", "d", "h", "l", "g", "mo", "mi"})  # words too: 'in', 'm'
MIN_WITH_UNIT = 0.5  # of the values carrying a free count word ('patients') for it to be the column's unit
# Words after a number that are not units: dates ('12 Jan'), clock times ('10 am'), ordinals ('2nd').
_NOT_UNITS = frozenset({"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
                        "january", "february", "march", "april", "june", "july", "august", "september", "october",
                        "november", "december", "am", "pm", "a", "p", "st", "nd", "rd", "th", "x", "e"})


def _singular(word: str) -> str:
    word = word.lower().rstrip(".")
    if word in ("fl oz", "floz", "fl. oz", "fluid ounce", "fluid ounces"):
        return "floz"
    if word in ("oz", "ounce", "ounces"):
        return "oz"
    if word in _KNOWN:
        return word
    if word.endswith("es") and word[:-2] in _KNOWN:
        return word[:-2]
    if word.endswith("s") and word[:-1] in _KNOWN:
        return word[:-1]
    return word


def _read(value: str) -> tuple[float, str, bool] | None:
    """(number, unit word, decorated) of one distinct value; the unit is the longest known reading of one or two
    words, and `decorated` says text followed it ('12.0 oz. Alumi-Tek')."""
    match = _VALUE.match(value)
    if match is None or re.search(r"\d", match.group("rest") or ""):
        return None  # '5 ft 10 in', '1st-4th': more than one number
    words = match.group("u").split()
    two = _singular(" ".join(words))
    known = len(words) == 2 and (two in _KNOWN or two in ("oz", "floz"))
    unit = two if known else _singular(words[0])
    rest = (match.group("rest") or "") if known or len(words) == 1 else f" {words[1]}{match.group('rest') or ''}"
    if unit in _NOT_UNITS or unit in _BARE_ONLY and rest.strip(" ."):
        return None  # '5 in stock' is no length: a one-letter unit stands alone
    if unit not in _KNOWN and unit not in ("oz", "floz") and (len(unit) < 3 or rest.strip()):
        return None  # a count word stands alone: '37 patients', not '3 big apples'
    return float(match.group("n").replace(",", "")), unit, bool(rest.strip(" ."))


def _dimension(unit: str, mass_company: bool) -> tuple[str, float]:
    if unit == "oz":
        dimension = "mass" if mass_company else "volume"
        return dimension, _OUNCE[dimension]
    if unit in _KNOWN:
        return _KNOWN[unit]
    return f"count of {unit}", 1.0  # '37 patients': a count whose unit is the word


def read_units(values: pd.Series) -> tuple[pd.Series, dict] | None:
    """Parse a text column of numbers with units; None when it is not one.

    Works on distinct values (units repeat). Returns numbers in the most frequent unit of the column
    and evidence: the unit, the units seen with their counts, conversions made, and the dimensions
    when more than one appears (then nothing is converted: the caller reports the mix).
    """
    text = values.dropna().astype("str")
    counts = text.value_counts()
    readings = {value: _read(value) for value in counts.index}
    with_unit = {v: r for v, r in readings.items() if r is not None and r[1].isalpha() and len(r[1]) <= 20}
    bare = [v for v in counts.index if _BARE.match(v)]
    unit_rows = int(counts[list(with_unit)].sum()) if with_unit else 0
    if unit_rows < 2:
        return None
    seen: dict[str, int] = {}
    for value, (_, unit, _) in with_unit.items():
        seen[unit] = seen.get(unit, 0) + int(counts[value])
    counted = {u for u in seen if u not in _KNOWN and u not in ("oz", "floz")}
    # A known unit is evidence on a few values ('19.3 kg' among bare numbers); a free word must dominate.
    if counted and (max(seen[u] for u in counted) < 0.9 * unit_rows or unit_rows < MIN_WITH_UNIT * len(text)):
        return None  # different free words after numbers ('3 apples', '2 pears'), or a stray word
    mass = any(_KNOWN.get(u, ("",))[0] == "mass" for u in seen)
    dims = {u: _dimension(u, mass) for u in seen}
    dimensions = sorted({d for d, _ in dims.values()})
    evidence = {"units_seen": dict(sorted(seen.items(), key=lambda kv: -kv[1])), "dimensions": dimensions}
    if len(dimensions) > 1:
        return pd.Series(pd.NA, index=values.index, dtype="Float64"), {**evidence, "mixed": True}
    unit = max(seen, key=lambda u: seen[u])
    target = dims[unit][1]
    numbers = {v: n * dims[u][1] / target for v, (n, u, _) in with_unit.items()}
    numbers.update({v: float(v) for v in bare})  # bare numbers are read in the column's unit
    decorated = sum(int(counts[v]) for v, (_, _, extra) in with_unit.items() if extra)
    converted = sum(n for u, n in seen.items() if u != unit)
    parsed = values.map(numbers, na_action="ignore").astype("float64")
    return parsed, {**evidence, "unit": "fl oz" if unit == "floz" else unit, "dimension": dimensions[0],
                    "converted_from_other_units": converted, "bare_numbers": int(counts[bare].sum()) if bare else 0,
                    "trailing_text_ignored": decorated, "mixed": False}
