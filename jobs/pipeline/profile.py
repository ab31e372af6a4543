"""Column roles (id, code, constant, numeric, coordinate, boolean, datetime, time, categorical, text), with evidence."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .entries import plain

ROLES = ("id", "code", "constant", "numeric", "coordinate", "boolean", "datetime", "time", "categorical", "text")
# Roles whose values are quantities: only these are imputed by value, fenced, scaled or logged.
QUANTITIES = ("numeric", "coordinate")
_ID_NAME = re.compile(r"(^|[_\s.-])(id|uuid|guid|key)$|^(id|uuid|guid)([_\s.-]|$)", re.IGNORECASE)
_ID_VALUE = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,64})$",
                       re.IGNORECASE)
CATEGORY_MAX = 50  # distinct values above which a text column is free text, unless repeats dominate
# Name words that say "this number is a label": postal codes, phones, account and catalogue numbers.
_CODE_WORDS = frozenset({"zip", "zipcode", "postcode", "postal", "plz", "phone", "telephone", "tel", "fax", "mobile",
                         "sku", "iban", "isbn", "issn", "ean", "upc", "gtin", "npi", "ssn", "fips", "msisdn", "pin"})
_CODE_SUFFIX = frozenset({"no", "nr", "num", "number", "code", "id", "key", "ref"})
_QUANTITY_WORDS = frozenset({"of", "count", "total", "amount", "size", "qty", "quantity"})
_LAT, _LON = frozenset({"lat", "latitude"}), frozenset({"lon", "lng", "long", "longitude"})
_DIGITS = re.compile(r"^\d+$")
# Digits in groups with separators: phones "(205) 555-1234", "+1 205.555.1234", ISSN "0035-9157", "12-345-678".
_GROUPED = re.compile(r"^\+?\(?\d{1,4}\)?([\s.-]\(?\d{2,4}\)?)+[\dXx]?$")
_INTERNATIONAL = re.compile(r"^\+\d{1,3}[\s.-]?\(?\d{1,4}\)?([\s.-]?\d{2,8})+$")  # '+47 70096565'; '+12' is not


def id_evidence(series: pd.Series, name: str) -> str | None:
    """Why a column looks like an identifier, or None."""
    values = series.dropna()
    if len(values) < 2 or pd.api.types.is_bool_dtype(series) or pd.api.types.is_float_dtype(series) and \
            not (values == values.round()).all():
        return None
    unique_share = values.nunique() / len(values)
    if _ID_NAME.search(str(name)) and unique_share >= 0.95:
        return f"name {name!r} and {unique_share:.0%} unique values"
    if unique_share < 1.0:
        return None
    if pd.api.types.is_numeric_dtype(series) and len(values) >= 20 and \
            (values.is_monotonic_increasing or values.is_monotonic_decreasing) and \
            (np.diff(values.to_numpy()[:1000]) != 0).all() and abs(values.diff().median()) == 1:
        return "unique integers increasing by 1 (a row counter)"
    if not pd.api.types.is_numeric_dtype(series):
        sample = values.astype("str").head(200)
        share = sample.str.match(_ID_VALUE.pattern, case=False).mean()
        if share >= 0.95:
            return f"{share:.0%} of values look like UUIDs or hashes"
    return None


def name_words(name: str) -> list[str]:
    """'EmployeeNo', 'employee_no' and 'employee no' → ['employee', 'no']."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def _integral(values: pd.Series) -> bool:
    if pd.api.types.is_integer_dtype(values):
        return True
    if pd.api.types.is_float_dtype(values):
        return bool((values == values.round()).all())
    return False


def code_evidence(series: pd.Series, name: str) -> str | None:
    """Why a column holds codes (labels written with digits) rather than quantities, or None."""
    values = series.dropna()
    if len(values) < 2 or pd.api.types.is_bool_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return None
    words = name_words(name)
    hinted = bool(_CODE_WORDS.intersection(words)) or bool(words) and words[-1] in _CODE_SUFFIX and \
        not _QUANTITY_WORDS.intersection(words) and words[0] not in ("n", "num", "number")
    numeric = pd.api.types.is_numeric_dtype(series)
    if numeric:
        values = values[np.isfinite(values.astype("float64"))]
        if values.empty or not _integral(values) or values.abs().max() >= 2 ** 63:
            return None
    head = values.head(5000)  # written as text only where it is looked at
    sample = head.astype("int64").astype("str") if numeric else head.astype("str").str.strip()
    digits = sample.str.match(_DIGITS.pattern)
    if not numeric and sample.str.match(r"^-?\d{16,}$").any():
        return "integers too long for a float (16+ digits)"
    if not numeric and digits.mean() >= 0.95 and sample[digits].str.match(r"^0\d").sum() >= max(2, 0.01 * len(sample)):
        return "digit strings with leading zeros"
    width = sample[digits].str.len()
    # Quantities of one width are round (salaries 50000, 65000); codes end in any digit.
    arbitrary = len(width) and sample[digits].str.endswith("0").mean() < 0.3
    if digits.mean() >= 0.95 and len(width) >= 20 and width.min() >= 5 and width.nunique() == 1 and arbitrary:
        return f"every value has exactly {int(width.iloc[0])} digits, ending in any digit (a fixed-width code)"
    grouped = digits & False if numeric else sample.str.match(_GROUPED.pattern)
    if not numeric and grouped.mean() >= 0.95 and not digits.all():
        return "digits in separated groups (phone, ISSN or account number format)"
    # A name alone is not enough: 'education_num' counts years; codes run to four digits or more. Under a code's
    # name, plain, grouped and international digits may mix ('0365590131', '+47 70096565').
    written = digits | grouped | (digits & False if numeric else sample.str.match(_INTERNATIONAL.pattern))
    if hinted and written.mean() >= 0.95 and (not digits.any() or width.median() >= 4):
        if not digits.any():  # every value grouped or international ('+47 70096565'): no plain width to give
            return f"name {name!r} names a code and the values are digit groups (phone or account format)"
        return f"name {name!r} names a code and the values are whole numbers of {int(width.median())}+ digits"
    return None


def coordinate_evidence(series: pd.Series, name: str) -> str | None:
    words = set(name_words(name))
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series) or series.notna().sum() < 2:
        return None
    low, high = series.min(), series.max()
    if words & _LAT and -90 <= low and high <= 90:
        return f"name {name!r} and values within ±90 (latitude)"
    if words & _LON and -180 <= low and high <= 180:
        return f"name {name!r} and values within ±180 (longitude)"
    return None


def role_evidence(series: pd.Series, name: str) -> tuple[str, str | None]:
    """The column's role and, for the roles that change what cleaning may do, why."""
    values = series.dropna()
    distinct = values.nunique()
    if distinct <= 1:
        return "constant", None
    if pd.api.types.is_bool_dtype(series):
        return "boolean", None
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime", None
    if not pd.api.types.is_numeric_dtype(series) and \
            values.head(1000).astype("str").str.match(r"^\d{2}:\d{2}(:\d{2})?$").all():
        return "time", "values are times of day (HH:MM)"
    if why := id_evidence(series, name):
        return "id", why
    if why := code_evidence(series, name):
        return "code", why
    if pd.api.types.is_numeric_dtype(series):
        if why := coordinate_evidence(series, name):
            return "coordinate", why
        return "numeric", None
    if distinct <= CATEGORY_MAX or distinct <= 0.2 * len(values):
        return "categorical", None
    return "text", f"{distinct:,} distinct values in {len(values):,}: free text, never guessed"


def column_role(series: pd.Series, name: str) -> str:
    return role_evidence(series, name)[0]


def skewness(series: pd.Series) -> float:
    values = series.dropna()
    if len(values) < 3:
        return 0.0
    value = float(values.skew())
    return 0.0 if not np.isfinite(value) else value


def profile_column(series: pd.Series, name: str, sample_size: int = 5) -> dict:
    """Statistics the advisor, the logs and the report use; plain JSON-safe values."""
    values = series.dropna()
    role = column_role(series, name)
    stats = {"column": name, "role": role, "dtype": str(series.dtype), "count": int(len(values)),
             "missing": int(series.isna().sum()),
             "missing_share": round(float(series.isna().mean()), 4) if len(series) else 0.0,
             "distinct": int(values.nunique())}
    if role in QUANTITIES and len(values):
        stats.update(mean=plain(values.mean()), std=plain(values.std()), min=plain(values.min()),
                     median=plain(values.median()), max=plain(values.max()), skew=round(skewness(series), 4))
    elif len(values):
        counts = values.value_counts().head(5)
        stats["top_values"] = [{"value": plain(k), "count": int(v)} for k, v in counts.items()]
    stats["sample_values"] = [plain(v) for v in values.drop_duplicates().head(sample_size)]
    if role == "id":
        stats["id_evidence"] = id_evidence(series, name)
    return stats


def profile_frame(frame: pd.DataFrame) -> dict[str, dict]:
    return {str(col): profile_column(frame[col], str(col)) for col in frame.columns}
