"""Type repair step: trim text; numbers, booleans, dates and times written as text; category variants; roles."""
from __future__ import annotations

import re

import pandas as pd

from .background import split
from .dates import looks_like_dates, looks_like_times, parse_dates, parse_times
from .distinct import remap
from .entries import column_stats, entry, plain
from .export import FORMULA, NUMBER
from .features import whole_numbers
from .numbers import bool_share, parse_booleans, parse_numbers
from .profile import CATEGORY_MAX, code_evidence, role_evidence
from .typos import repair_typos
from .units import read_units

PARALLEL_CELLS = 500_000  # cells (text cells for types) from which half the columns go to a forked child
_SPACES = re.compile(r"\s+")
SAMPLE = 2000  # values tried first: most text columns are ruled out without a full pass
MAX_SPELLINGS = 1000  # a category's canonical spellings a log (and so a plan) lists for the next batch
ASSUMED_ORDER = (" No value shows whether the day or the month comes first (no part is above 12): read month "
                 "first ('/' and '-'), day first ('.'). If that is wrong, apply a plan with parse.datetime.dayfirst "
                 "set to the right order.")
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
                         + ": converted" + (f"; {lost:,} unparseable values set to missing." if lost else ".")
                         + (ASSUMED_ORDER if evidence.get("day_month_order") == "assumed" else ""))


def _parse(kind: str, series: pd.Series, dates: dict | None = None) -> tuple[pd.Series, dict]:
    if kind == "boolean":
        return parse_booleans(series), {}
    if kind == "numeric":
        return parse_numbers(series)
    if kind == "units":
        read = read_units(series)
        return read if read is not None else (pd.Series(float("nan"), index=series.index), {})
    if kind == "datetime":
        return parse_dates(series, dates)
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
             forced: str | None = None, coded: bool = False, dates: dict | None = None
             ) -> tuple[pd.Series, dict | None, dict | None]:
    """Try booleans, then numbers, times and dates; the first that parses well enough wins.

    Returns (column, conversion log or None, near-miss log or None). A `forced` kind (the user's role)
    converts whatever share parses; codes are never parsed as numbers. `dates`: a plan's date reading.
    """
    if forced is not None:
        new, evidence = _parse(forced, series, dates)
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
        new, evidence = _parse(kind, series, dates)
        if evidence.get("mixed"):
            return series, None, _mixed_units(col, evidence)
        share = float(new.notna().sum()) / len(stripped)
        if share >= threshold:
            action, what = _PARSERS[kind]
            return new, _converted(action, col, series, new, share, what, evidence), None
        if share >= NEAR_MISS and miss is None:
            miss = _near_miss(kind, col, series, new, share, threshold)
    return series, None, miss


def trimmed(text: pd.Series) -> pd.Series:
    """Text without surrounding whitespace, but for the leading space of ' =1+1': inert in a spreadsheet,
    '=1+1' is live."""
    stripped = text.str.strip()
    armed = stripped.str.match(FORMULA) & ~stripped.str.fullmatch(NUMBER) & ~text.str.match(FORMULA)
    return stripped.where(~armed, text.str.rstrip()) if armed.any() else stripped


def _categorical(stripped: pd.Series) -> bool:
    """Few distinct values for the rows: the columns whose rare spellings may be typos (codes aside)."""
    distinct = stripped.nunique()
    return distinct <= CATEGORY_MAX or distinct <= 0.2 * len(stripped)


def _variant_key(value) -> str:
    return _SPACES.sub(" ", str(value).casefold())


def unify_variants(series: pd.Series, col: str, spellings: list[str] | None = None
                   ) -> tuple[pd.Series, dict] | None:
    """Map 'paris', ' PARIS' and 'Paris' to the most frequent spelling, or to one of a plan's `spellings`."""
    counts = series.value_counts()
    if len(counts) < 1 + (spellings is None) or len(counts) > max(CATEGORY_MAX, 1000):
        return None
    # Plain Python over the distinct values (at most a thousand): counts come most frequent first, so the
    # first spelling of each group is its canonical one.
    canonical: dict[str, object] = {_variant_key(s): s for s in spellings or []}
    fixed = spellings is not None  # a plan's spellings: no new canonical value is chosen
    mapping = {}
    for value in counts.index:
        key = _variant_key(value)
        if key in canonical:
            if canonical[key] != value:
                mapping[value] = canonical[key]
        elif not fixed:
            canonical[key] = value
    if not mapping:
        return None
    new = remap(series, mapping)
    changed = int(counts[list(mapping)].sum())
    examples = {str(k): str(v) for k, v in list(mapping.items())[:5]}
    spelled = sorted(str(v) for v in canonical.values()) if len(canonical) <= MAX_SPELLINGS else None
    return new, entry("unify_category_variants", column=col, count=changed, source="plan" if fixed else "heuristic",
                      params={"variants_merged": len(mapping), "examples": examples, "spellings": spelled},
                      before={"distinct": len(counts)}, after={"distinct": int(new.nunique())},
                      message=f"Merged {len(mapping)} case/spacing variants into their most frequent spelling "
                              f"({changed:,} values), e.g. {next(iter(examples.items()))[0]!r} → "
                              f"{next(iter(examples.items()))[1]!r}.")


def repair_types(frame: pd.DataFrame, *, parse_threshold: float = 0.95, roles: dict[str, str] | None = None,
                 parallel: bool = False, pinned: dict[str, dict] | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Convert text columns that hold numbers, booleans, dates or times; tidy category spellings.

    A column converts when at least `parse_threshold` of its non-missing values parse; the rest
    become missing and the log says how many. `roles` (the user's) force a conversion or forbid one:
    codes, identifiers and free text keep their text exactly. `pinned` (a plan's, per column: its typo
    mapping and spellings, its date reading) replace those decisions. Each column is repaired on its own, so
    with `parallel` a forked child takes every other text column of a large frame.
    """
    if not 0 < parse_threshold <= 1:
        raise ValueError(f"parse_threshold must be in (0, 1]; got {parse_threshold!r}")
    roles = roles or {}
    text = [c for c in frame.columns if is_text(frame[c])]
    theirs = text[1::2] if parallel and len(frame) * len(text) >= PARALLEL_CELLS else []
    given_away = set(theirs)
    repaired = split(lambda columns: _repair_columns(frame, columns, parse_threshold, roles, pinned or {}),
                     [c for c in frame.columns if c not in given_away], theirs)
    out = frame.copy(deep=False)  # copy-on-write: columns are copied only where a value changes
    logs: list[dict] = []
    for col in frame.columns:  # logs in column order, whoever repaired the column
        new, entries = repaired[col]
        if new is not None:
            out[col] = new
        logs += entries
    return out, logs


def _repair_columns(frame: pd.DataFrame, columns: list, parse_threshold: float, roles: dict[str, str],
                    pinned: dict[str, dict]) -> dict:
    return {col: _repair_column(frame[col], col, parse_threshold, roles.get(str(col)), pinned.get(str(col)))
            for col in columns}


def _repair_column(series: pd.Series, col, parse_threshold: float, role: str | None, known: dict | None = None
                   ) -> tuple[pd.Series | None, list[dict]]:
    """The repaired column (None: unchanged) and its log entries."""
    present = series.dropna()
    logs: list[dict] = []
    if not is_text(series) or present.empty:
        if role in ("code", "id") and len(present) and whole_numbers(series):
            return series.astype("Int64"), []  # a code read as float because of gaps: exact integers again
        return None, []
    changed_any = False
    text = present.astype("str")
    stripped = trimmed(text)
    changed = int((stripped != text).sum())
    if changed:
        series, changed_any = stripped.reindex(series.index), True
        logs.append(entry("trim_whitespace", column=col, count=changed,
                          message=f"Trimmed surrounding whitespace in {changed:,} value{'s' if changed != 1 else ''}."))
    if role in ("id", "code", "text"):
        return (series if changed_any else None), logs
    coded = code_evidence(stripped.iloc[:: max(1, len(stripped) // SAMPLE)], col) is not None
    if role != "categorical":
        new, log, miss = _convert(series, col, stripped, parse_threshold, _FORCED.get(role), coded,
                                  (known or {}).get("dates"))
        if log is not None:
            return new, logs + [log]
        if miss is not None:
            logs.append(miss)
    # Typos after conversion failed: a slip in a yes/no or number column is the parser's to report.
    if not coded and _categorical(stripped) and (fixed := repair_typos(series, col, (known or {}).get("typos"))):
        (series, log), changed_any = fixed, True
        logs.append(log)
    if (unified := unify_variants(series, col, (known or {}).get("spellings"))) is not None:
        (series, log), changed_any = unified, True
        logs.append(log)
    return (series if changed_any else None), logs


def detect_roles(frame: pd.DataFrame, given: dict[str, str] | None = None, parallel: bool = False,
                 planned: dict[str, str] | None = None) -> tuple[dict[str, str], list[dict]]:
    """Every column's role (the user's where given, else an applied plan's) and a log entry for each decision
    that restricts cleaning.

    Each column is judged on its own, so with `parallel` a forked child judges every other column of a large frame.
    """
    columns = list(frame.columns)
    theirs = columns[1::2] if parallel and frame.size >= PARALLEL_CELLS else []
    found = split(lambda part: _roles_of(frame, part, given or {}, planned or {}), columns[::2] if theirs else columns,
                  theirs)
    roles, notes = {}, []
    for col in columns:  # in column order, whoever judged them
        name = str(col)
        roles[name], note = found[name]
        notes += note
    return roles, notes


def _roles_of(frame: pd.DataFrame, columns: list, given: dict[str, str], planned: dict[str, str]
              ) -> dict[str, tuple[str, list[dict]]]:
    """Per column: its role and the log entries the decision makes."""
    return {str(col): _role_of(frame[col], str(col), given, planned) for col in columns}


def _role_of(series: pd.Series, name: str, given: dict[str, str], planned: dict[str, str]) -> tuple[str, list[dict]]:
    if name in given:
        return given[name], [entry("detect_role", column=name, params={"role": given[name], "evidence": "set by the user"},
                                   message=f"Role {given[name]!r}, set by the user.")]
    if name in planned:
        return planned[name], [entry("detect_role", column=name, source="plan",
                                     params={"role": planned[name], "evidence": "the applied plan's role"},
                                     message=f"Role {planned[name]!r}, from the applied plan.")]
    role, why = role_evidence(series, name)
    if role == "id":
        return role, [entry("detect_id_like", column=name, params={"role": role, "evidence": why},
                            message=f"Looks like an identifier ({why}): kept exactly, never imputed, clipped "
                                    "or used as a feature.")]
    if role == "code":
        return role, [entry("detect_code", column=name, params={"role": role, "evidence": why},
                            message=f"A code, not a quantity ({why}): kept exactly, never imputed by value, "
                                    "clipped, scaled or turned into a length.")]
    if role in ("coordinate", "time", "text"):
        return role, [entry("detect_role", column=name, params={"role": role, "evidence": why},
                            message=f"Role {role!r} ({why}).")]
    if role == "constant":
        value = series.dropna().iloc[0] if series.notna().any() else None
        return role, [entry("detect_constant", column=name, params={"value": None if value is None else str(value)},
                            message="Holds a single value: kept in the cleaned data, excluded from features.")]
    return role, []
