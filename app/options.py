"""Per-upload cleaning options: read from the request, validated, stored on the dataset as JSON.

Everything here is checked before anything is stored (400 `invalid_parameter` naming the field and
the allowed values); `check_roles` runs once the file's columns are known (422 `unknown_column`).
"""
from __future__ import annotations

import json
import unicodedata

from jobs.pipeline.options import OUTLIER_CHOICES, ROLE_CHOICES

from .auth import request_raw
from .errors import APIError

BOOLEAN_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
BOOLEANS = ("true", "false", "1", "0", "yes", "no")
MAX_NA_TOKENS, MAX_NA_LENGTH = 50, 50
NA_VALUES_RULE = (f"a JSON list of strings or a comma-separated string, at most {MAX_NA_TOKENS} tokens "
                  f"of at most {MAX_NA_LENGTH} characters")
DEFAULTS: dict = {"na_values": [], "roles": {}, "outliers": "flag", "outlier_columns": False,
                  "missing_indicators": False, "features": True}
FIELDS = tuple(DEFAULTS)


def _invalid(field: str, message: str, value=None, **details) -> APIError:
    if value is not None:
        details["value"] = value[:100] if isinstance(value, str) else value
    return APIError(400, "invalid_parameter", message, {"field": field, **details})


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def parse_boolean(field: str, raw, default: bool) -> bool:
    if _blank(raw):
        return default
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):  # JSON's 0, 1 (and 1.0: the same number)
        return bool(raw)
    word = raw.strip().lower() if isinstance(raw, str) else None
    if word not in BOOLEAN_WORDS:
        raise _invalid(field, f"{field} must be one of {', '.join(BOOLEANS)}; got {_shown(raw)}.",
                       raw if isinstance(raw, str) else None, allowed=list(BOOLEANS))
    return BOOLEAN_WORDS[word]


def parse_outliers(raw) -> str:
    if _blank(raw):
        return DEFAULTS["outliers"]
    choice = raw.strip().lower() if isinstance(raw, str) else None
    if choice not in OUTLIER_CHOICES:
        raise _invalid("outliers", f"outliers must be one of {', '.join(OUTLIER_CHOICES)}; got {_shown(raw)}.",
                       raw if isinstance(raw, str) else None, allowed=list(OUTLIER_CHOICES))
    return choice


def _json(field: str, text: str, rule: str, **details):
    try:
        return json.loads(text)
    except ValueError:
        raise _invalid(field, f"{field} is not valid JSON; it must be {rule}.", text, **details) from None


def _control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def parse_na_values(raw) -> list[str]:
    """Extra missing-value tokens, in the order given, without duplicates or empty tokens."""
    if _blank(raw):
        return []
    bad = _invalid("na_values", f"na_values must be {NA_VALUES_RULE}.",
                   max_tokens=MAX_NA_TOKENS, max_length=MAX_NA_LENGTH)
    if isinstance(raw, str):
        text = raw.strip()
        tokens = (_json("na_values", text, NA_VALUES_RULE, max_tokens=MAX_NA_TOKENS, max_length=MAX_NA_LENGTH)
                  if text.startswith("[") else text.split(","))
    else:
        tokens = raw
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise bad
    cleaned = list(dict.fromkeys(t.strip() for t in tokens if t.strip()))
    if len(cleaned) > MAX_NA_TOKENS:
        raise _invalid("na_values", f"na_values takes at most {MAX_NA_TOKENS} tokens; got {len(cleaned)}.",
                       max_tokens=MAX_NA_TOKENS, max_length=MAX_NA_LENGTH)
    for token in cleaned:
        if len(token) > MAX_NA_LENGTH or _control(token):
            raise _invalid("na_values", f"na_values token {_shown(token)} is too long or holds control characters; "
                           f"each token is at most {MAX_NA_LENGTH} printable characters.", token,
                           max_tokens=MAX_NA_TOKENS, max_length=MAX_NA_LENGTH)
    return cleaned


def parse_roles(raw) -> dict[str, str]:
    """Column → role; the columns are checked against the file by check_roles."""
    if _blank(raw):
        return {}
    rule = "a JSON object mapping column names to roles"
    roles = _json("roles", raw.strip(), rule, allowed=list(ROLE_CHOICES)) if isinstance(raw, str) else raw
    if not isinstance(roles, dict):
        raise _invalid("roles", f"roles must be {rule} ({', '.join(ROLE_CHOICES)}), "
                       f'e.g. {{"zip": "code", "notes": "text"}}.', allowed=list(ROLE_CHOICES))
    out: dict[str, str] = {}
    for column, role in roles.items():
        choice = role.strip().lower() if isinstance(role, str) else None
        if choice not in ROLE_CHOICES:
            raise _invalid("roles", f"roles: column {_shown(column)} has role {_shown(role)}; a role is one of "
                           f"{', '.join(ROLE_CHOICES)}.", role if isinstance(role, str) else None,
                           column=str(column)[:200], allowed=list(ROLE_CHOICES))
        out[str(column)] = choice
    return out


def read_options(base: dict | None = None) -> dict:
    """The request's options over `base` (the defaults, or a previous run's); raises 400 before anything is stored."""
    base = base or DEFAULTS
    raw = {field: request_raw(field) for field in FIELDS}
    return {
        "na_values": base["na_values"] if _blank(raw["na_values"]) else parse_na_values(raw["na_values"]),
        "roles": base["roles"] if _blank(raw["roles"]) else parse_roles(raw["roles"]),
        "outliers": base["outliers"] if _blank(raw["outliers"]) else parse_outliers(raw["outliers"]),
        **{field: parse_boolean(field, raw[field], base[field])
           for field in ("outlier_columns", "missing_indicators", "features")},
    }


def check_roles(roles: dict[str, str], columns: list[str]) -> None:
    """422 when `roles` names a column the file does not have (like an unknown target)."""
    known = set(columns)
    unknown = [c for c in roles if c not in known]
    if unknown:
        raise APIError(422, "unknown_column",
                       f"roles names {'a column' if len(unknown) == 1 else 'columns'} not in the dataset: "
                       f"{', '.join(map(repr, unknown[:10]))}.",
                       {"field": "roles", "unknown": unknown[:100], "columns": columns[:100]})


def effective(stored: dict | None) -> dict:
    """Stored options over the defaults (a dataset recorded before options existed has none)."""
    return {**DEFAULTS, **(stored or {})}


def shown_options(options: dict | None) -> dict | None:
    """Options as responses show them: an applied plan by where it came from, not whole."""
    if not options or "plan" not in options:
        return options
    return {**options, "plan": (options["plan"] or {}).get("origin")}
