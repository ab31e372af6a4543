"""Type repair step: trim text; numbers, booleans, dates and times written as text; category variants; roles."""
from __future__ import annotations

import pandas as pd

from .dates import looks_like_dates, looks_like_times, parse_dates, parse_times
from .entries import column_stats, entry, plain
from .export import FORMULA, NUMBER
from .numbers import bool_share, parse_booleans, parse_numbers
from .profile import CATEGORY_MAX, code_evidence, role_evidence
from .typos import repair_typos
from .units import read_units

SAMPLE = 2000  # values tried first: most text columns are ruled out without a full pass
NEAR_MISS = 0.8  # a column parsing this well but under the threshold gets a log line saying why it stayed text
_PARSERS = {"boolean": ("convert_boolean", "yes/no words"), "numeric": ("convert_numeric", "numbers"),
            "units": ("convert_unit", "numbers with a unit"),
            "datetime": ("convert_datetime", "dates"), "time": ("convert_time", "times of day")}
_FORCED = {"numeric": "numeric", "coordinate": "numeric", "boolean": "boolean", "datetime": "datetime", "time": "time"}
_KINDS = {"currency", "percent", "thousands_separators", "parenthesised_negatives", "decimal_comma", "dayfirst",
          "has_time"}


def is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def _converted(action: str, col: str, series: pd.Series, new: pd.Series, share: float, what: str,
               evidence: dict) -> dict:
    lost = int(new.isna().sum() - series.isna().sum())
    kinds = ", ".join(k.replace("_", " ") for k, v in evidence.items() if k in _KINDS and v)
    if evidence.get("unit"):
        others = [u for u in evidence["units_seen"] if u != evidence["unit"]]
        kinds = f"unit {evidence['unit']}" + (f"; {', '.join(others)} converted to it" if others else "")
    return entry(action, column=col, count=int(series.notna().sum()),
                 params={"share_parsed": round(share, 4), "unparseable_to_missing": lost, **evidence},
                 before=column_stats(series), after=column_stats(new),
                 message=f"{share:.0%} of values parse as {what}" + (f" ({kinds})" if kinds else "")
                         + ": converted" + (f"; {lost:,} unparseable values set to missing." if lost else "."))


def _parse(kind: str, series: pd.Series) -> tuple[pd.Series, dict]:
    if kind == "boolean":
        return parse_booleans(series), {}
    if kind == "numeric":
        return parse_numbers(series)
    if kind == "units":
        read = read_units(series)
        return read if read is not None else (pd.Series(float("nan"), index=series.index), {})
    if kind == "datetime":
        return parse_dates(series)
    return parse_times(series)


def _unit_share(values: pd.Series) -> float:
    if not values.astype("str").str.contains(r"\d\s*[^\W\d_]", regex=True).any():
        return 0.0  # no letter after a digit anywhere: no unit to read
    read = read_units(values)
    if read is None:
        return 0.0
    # A mix of dimensions goes on to be reported; otherwise the share read.
    return 1.0 if read[1]["mixed"] else float(read[0].notna().sum()) / max(1, int(values.notna().sum()))


def _mixed_units(col: str, evidence: dict) -> dict:
    seen = ", ".join(f"{u} ({n})" for u, n in evidence["units_seen"].items())
    return entry("mixed_units", column=col, count=sum(evidence["units_seen"].values()), params=evidence,
                 message=f"Numbers with units of {len(evidence['dimensions'])} dimensions "
                         f"({', '.join(evidence['dimensions'])}): {seen}. Kept as text; they cannot be one number.")


def _near_miss(kind: str, col: str, series: pd.Series, new: pd.Series, share: float, threshold: float) -> dict:
    bad = series[series.notna() & new.isna()].astype("str")
    examples = bad.value_counts().head(5)
    shown = ", ".join(f"{v!r} ({n / series.notna().sum():.0%})" for v, n in examples.items())
    return entry("keep_text", column=col, count=int(len(bad)),
                 params={"would_be": kind, "share_parsed": round(share, 4), "threshold": threshold,
                         "unparseable_examples": [plain(v) for v in examples.index]},
                 message=f"{share:.0%} parse as {_PARSERS[kind][1]}, below the {threshold:.0%} threshold: kept as "
                         f"text; unparseable values like {shown}. Declare them missing with na_values, or set the "
                         f"column's role, to convert it.")


def _convert(series: pd.Series, col: str, stripped: pd.Series, threshold: float,
             forced: str | None = None, coded: bool = False) -> tuple[pd.Series, dict | None, dict | None]:
    """Try booleans, then numbers, times and dates; the first that parses well enough wins.

    Returns (column, conversion log or None, near-miss log or None). A `forced` kind (the user's role)
    converts whatever share parses; codes are never parsed as numbers.
    """
    if forced is not None:
        new, evidence = _parse(forced, series)
        share = float(new.notna().sum()) / len(stripped)
        action, what = _PARSERS[forced]
        return new, _converted(action, col, series, new, share, what, {**evidence, "role": "set by the user"}), None
    sample = stripped.iloc[:: max(1, len(stripped) // SAMPLE)]
    loose = threshold - 0.05  # sampling noise must not reject a column that qualifies
    if bool_share(sample) >= loose and (share := bool_share(stripped)) >= threshold:
        new = parse_booleans(series)
        return new, _converted("convert_boolean", col, series, new, share, "yes/no words", {}), None
    miss = None
    checks = (("units", _unit_share), ("numeric", lambda v: parse_numbers(v)[0].notna().mean()),
              ("time", looks_like_times), ("datetime", looks_like_dates))
    for kind, shape in checks:
        if kind in ("numeric", "units") and coded:
            continue
        guess = shape(sample)
        if guess < NEAR_MISS - 0.05:
            continue
        new, evidence = _parse(kind, series)
        if evidence.get("mixed"):
            return series, None, _mixed_units(col, evidence)
        share = float(new.notna().sum()) / len(stripped)
        if share >= threshold:
            action, what = _PARSERS[kind]
            return new, _converted(action, col, series, new, share, what, evidence), None
        if share >= NEAR_MISS and miss is None:
            miss = _near_miss(kind, col, series, new, share, threshold)
    return series, None, miss


def _categorical(stripped: pd.Series) -> bool:
    """Few distinct values for the rows: the columns whose rare spellings may be typos (codes aside)."""
    distinct = stripped.nunique()
    return distinct <= CATEGORY_MAX or distinct <= 0.2 * len(stripped)


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


def repair_types(frame: pd.DataFrame, *, parse_threshold: float = 0.95, roles: dict[str, str] | None = None
                 ) -> tuple[pd.DataFrame, list[dict]]:
    """Convert text columns that hold numbers, booleans, dates or times; tidy category spellings.

    A column converts when at least `parse_threshold` of its non-missing values parse; the rest
    become missing and the log says how many. `roles` (the user's) force a conversion or forbid one:
    codes, identifiers and free text keep their text exactly.
    """
    if not 0 < parse_threshold <= 1:
        raise ValueError(f"parse_threshold must be in (0, 1]; got {parse_threshold!r}")
    roles = roles or {}
    out = frame.copy()
    logs: list[dict] = []
    for col in out.columns:
        series = out[col]
        present = series.dropna()
        role = roles.get(str(col))
        if is_text(series) and not present.empty:
            text = present.astype("str")
            stripped = text.str.strip()
            # ' =1+1' is inert in a spreadsheet, '=1+1' is live: keep the leading space that disarms it.
            armed = stripped.str.match(FORMULA) & ~stripped.str.fullmatch(NUMBER) & ~text.str.match(FORMULA)
            if armed.any():
                stripped = stripped.where(~armed, text.str.rstrip())
            changed = int((stripped != text).sum())
            if changed:
                series = out[col] = stripped.reindex(series.index)
                logs.append(entry("trim_whitespace", column=col, count=changed,
                                  message=f"Trimmed surrounding whitespace in {changed:,} values."))
            if role in ("id", "code", "text"):
                continue
            coded = code_evidence(stripped.iloc[:: max(1, len(stripped) // SAMPLE)], col) is not None
            if role != "categorical":
                new, log, miss = _convert(series, col, stripped, parse_threshold, _FORCED.get(role), coded)
                if log is not None:
                    out[col] = new
                    logs.append(log)
                    continue
                if miss is not None:
                    logs.append(miss)
            # Typos after conversion failed: a slip in a yes/no or number column is the parser's to report.
            if not coded and _categorical(stripped) and (fixed := repair_typos(series, col)) is not None:
                series, log = fixed
                out[col] = series
                logs.append(log)
            if (unified := unify_variants(series, col)) is not None:
                out[col], log = unified
                logs.append(log)
        elif role in ("code", "id") and pd.api.types.is_float_dtype(series) and len(present) and \
                (present == present.round()).all():
            out[col] = series.astype("Int64")  # a code read as float because of gaps: exact integers again
    return out, logs


def detect_roles(frame: pd.DataFrame, given: dict[str, str] | None = None) -> tuple[dict[str, str], list[dict]]:
    """Every column's role (the user's where given) and a log entry for each decision that restricts cleaning."""
    given = given or {}
    roles, notes = {}, []
    for col in frame.columns:
        name = str(col)
        if name in given:
            roles[name] = given[name]
            notes.append(entry("detect_role", column=name, params={"role": given[name], "evidence": "set by the user"},
                               message=f"Role {given[name]!r}, set by the user."))
            continue
        role, why = role_evidence(frame[col], name)
        roles[name] = role
        if role == "id":
            notes.append(entry("detect_id_like", column=name, params={"role": role, "evidence": why},
                               message=f"Looks like an identifier ({why}): kept exactly, never imputed, clipped "
                                       "or used as a feature."))
        elif role == "code":
            notes.append(entry("detect_code", column=name, params={"role": role, "evidence": why},
                               message=f"A code, not a quantity ({why}): kept exactly, never imputed by value, "
                                       "clipped, scaled or turned into a length."))
        elif role in ("coordinate", "time", "text"):
            notes.append(entry("detect_role", column=name, params={"role": role, "evidence": why},
                               message=f"Role {role!r} ({why})."))
        elif role == "constant":
            value = frame[col].dropna().iloc[0] if frame[col].notna().any() else None
            notes.append(entry("detect_constant", column=name, params={"value": None if value is None else str(value)},
                               message="Holds a single value: kept in the cleaned data, excluded from features."))
    return roles, notes
