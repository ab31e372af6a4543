"""A plan as a standalone pandas script (plan.py): the run's decisions as literals, a comment per step saying why."""
from __future__ import annotations

import ast
import inspect
import pprint
import re
from types import ModuleType

from . import coerce, dates, decide, depend, distinct, entries, export, features, impute, load, numbers, outliers, \
    recipe, units

# What the script copies from the pipeline, in an order where each name is defined before a call needs it: the
# service's own code, so both read and repair a file the same way (a test runs the script against the service).
COPIED: list[tuple[ModuleType, tuple[str, ...]]] = [
    (export, ("FORMULA", "NUMBER", "formula_like")),
    (entries, ("is_number",)),
    (load, ("_unique_names", "csv_options")),
    (distinct, ("per_value", "remap")),
    (numbers, ("_SYMBOLS", "TRUE_WORDS", "FALSE_WORDS", "parse_booleans", "decimal_places")),
    (features, ("whole_numbers",)),
    (dates, ("_DATE_SHAPE", "MAX_MIXED", "_TIME", "_TIME_IN_TEXT", "parse_times", "_century", "_take", "read_with",
             "read_distinct")),
    (units, ("_KNOWN", "_VALUE", "_BARE", "_BARE_ONLY", "_NOT_UNITS", "_singular", "_read")),
    (coerce, ("_SPACES", "is_text", "_variant_key", "trimmed")),
    (decide, ("DecisionError",)),
    (depend, ("MAJORITY", "VARIES", "_codes", "_varies", "_groups", "_majorities", "majority_fill")),
    (impute, ("MAX_LEVELS", "MIN_FIT_ROWS", "LEARNED", "group_key", "interpolated", "_design", "_fit", "_predict",
              "fit_regression", "fill_column", "mode_of", "_dates_between", "_regression", "_keep_integers")),
    (outliers, ("_rebuild", "handled", "outside")),
    (recipe, ("PLAIN", "GROUPED", "read_table", "trim", "read_numbers", "read_units", "read_dates", "read_times",
              "spelled", "set_cells", "fenced", "stamped", "written")),
]
EXPORTABLE = ("csv", "tsv")  # formats the script reads (the others need readers beyond pandas and numpy)
CHANGING = ("outliers_clip", "outliers_null")


class ScriptError(ValueError):
    """A plan the script cannot reproduce (a file format it does not read)."""


def _literal(value, indent: int = 0) -> str:
    """Python source for a constant; sets sorted and patterns whole, so the script reads the same every time.
    Lines after the first are indented by `indent` (repr escapes line breaks in strings: only layout moves)."""
    if isinstance(value, re.Pattern):
        flags = value.flags & ~re.UNICODE
        return f"re.compile({value.pattern!r}{f', {flags}' if flags else ''})"
    if isinstance(value, frozenset):
        return f"frozenset({sorted(value)!r})"
    text = pprint.pformat(value, width=110 - indent, sort_dicts=False, compact=True)
    ast.literal_eval(text)  # a plan comes from anybody: what it puts in the script is a literal, or nothing
    return text.replace("\n", "\n" + " " * indent)


def _copied() -> str:
    """The source of COPIED, a section per module saying where it comes from."""
    sections = []
    for module, names in COPIED:
        parts, constants = [], []
        for name in names:
            value = getattr(module, name)
            if inspect.isfunction(value) or inspect.isclass(value):
                parts.append(inspect.getsource(value).rstrip())
            else:
                constants.append(f"{name} = {_literal(value)}")
        where = module.__name__.replace(".", "/") + ".py"
        sections.append("\n\n\n".join([f"# ---- from {where} " + "-" * max(0, 90 - len(where)),
                                         *(["\n".join(constants)] if constants else []), *parts]))
    source = "\n\n\n".join(sections)
    defined = {getattr(n, "name", None) for n in ast.parse(source).body} | {
        t.id for n in ast.parse(source).body if isinstance(n, ast.Assign) for t in n.targets}
    missing = [name for _, names in COPIED for name in names if name not in defined]
    if missing:  # a source file changed under the running process (a deploy): its code is not what runs here
        raise RuntimeError(f"the copied source does not define {missing}")
    return source


# Read when this module is imported, with the modules it copies: the files as the process loaded them, not as a
# later deploy (or a checkout replaced under a running test) left them.
COPIED_SOURCE = _copied()


def _comment(text: str, width: int = 108) -> list[str]:
    """Log prose as comment lines: one line each, nothing but printable characters (it comes from the data)."""
    clean = "".join(c if c.isprintable() else " " for c in str(text))
    words, lines, line = clean.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    return [f"    # {x}" for x in [*lines, line] if x][:6]


def _sizes(evidence: dict) -> tuple[dict[str, float], float]:
    """Each unit seen, its size in the dimension's base unit, and the size of the column's own (most frequent) unit."""
    seen = evidence["units_seen"]
    mass = any(units._KNOWN.get(u, ("",))[0] == "mass" for u in seen)
    sizes = {u: units._dimension(u, mass)[1] for u in seen}
    return sizes, sizes[max(seen, key=lambda u: seen[u])]


def _type_step(e: dict, plan: dict) -> list[str]:
    """The line repairing one column's type or spelling, as the log entry `e` says it was."""
    col, params = e["column"], e["params"]
    at = f"frame[{col!r}]"
    action = e["action"]
    if action == "trim_whitespace":
        return [f"{at} = trim({at})"]
    if action == "convert_boolean":
        return [f"{at} = parse_booleans({at})"]
    if action == "convert_numeric":
        return [f"{at} = read_numbers({at}, decimal_comma={bool(params.get('decimal_comma'))!r})"]
    if action == "convert_unit":
        sizes, size = _sizes(params)
        return [f"{at} = read_units({at}, {_literal(sizes)}, {size!r})"]
    if action == "convert_datetime":
        return [f"{at} = read_dates({at}, dayfirst={bool(params['dayfirst'])!r}, "
                f"formats={params.get('formats_read', [])!r})"]
    if action == "convert_time":
        return [f"{at} = read_times({at})"]
    categories = (plan["columns"].get(col) or {}).get("categories") or {}
    if action == "repair_typos":
        return [f"{at} = remap({at}, {_literal(categories.get('typos') or params.get('mapping') or {}, 8)})"]
    if action == "unify_category_variants":
        spellings = categories.get("spellings") or params.get("spellings")
        if spellings is None:
            return ["# NOT RESTATED: too many spellings to list; the service's output differs here."]
        return [f"{at} = spelled({at}, {_literal(spellings, 8)})"]
    return []


def _codes(plan: dict) -> list[str]:
    """A user's code or identifier read as a float because of gaps is whole numbers again."""
    return [f"if {c!r} in frame and not is_text(frame[{c!r}]) and frame[{c!r}].notna().any() and "
            f"whole_numbers(frame[{c!r}]):\n        frame[{c!r}] = frame[{c!r}].astype('Int64')  # a user's code"
            for c, spec in plan["columns"].items() if spec.get("decided_by") == "user" and spec.get("role") in
            ("code", "id")]


def _cells(repairs: dict[str, dict[int, object]], messages: dict[str, str]) -> list[str]:
    lines = []
    for col, cells in repairs.items():
        lines += _comment(messages.get(col, "repaired one by one on this file's evidence"))
        lines.append(f"    frame = set_cells(frame, {col!r}, {_literal(cells, 8)})")
    return lines


def _gaps(plan: dict, indicators: bool) -> list[str]:
    lines = ["    before = frame.copy()  # every gap is filled from the values as they were before any fill"]
    for col, known in plan["missing"].items():
        lines += _comment(f"{col}: {known['action']} ({known.get('source')}): {known.get('reasoning') or ''}")
        if known["action"] in ("leave_missing", "drop_column"):
            lines.append("    # (left missing)")
            continue
        decision = {k: known[k] for k in ("action", "params", "model") if k in known}
        if indicators:
            lines.append(f"    frame[{col + '_was_missing'!r}] = before[{col!r}].isna().astype('int8')")
        lines.append(f"    frame[{col!r}] = fill_column(before, {col!r}, {_literal(decision, 8)})[0]")
    return lines


def _outliers(plan: dict, steps: list[dict]) -> list[str]:
    """Clipped or nulled values, and flag columns: the strategies an upload may choose."""
    fences, strategy = (plan.get("outliers") or {}).get("fences") or {}, plan["options"]["outliers"]
    lines = []
    for e in steps:
        col, flag = e["column"], e["params"].get("flag_column")
        if col in fences and e["action"] in CHANGING:
            lines += _comment(e["message"])
            lines.append(f"    frame[{col!r}] = fenced(frame[{col!r}], {_literal(fences[col])}, {strategy!r})")
        elif col in fences and e["action"] == "outliers_flag" and flag:
            lines += _comment(e["message"])
            lines.append(f"    frame[{flag!r}] = outside(frame[{col!r}], **{_literal(fences[col])})")
    return lines


def plan_script(plan: dict, repairs: dict, origin: str = "") -> str:
    """The script of a plan; `repairs` are the cells its run repaired one by one (PipelineResult.repairs)."""
    how = plan.get("import") or {}
    if how.get("format") not in EXPORTABLE:
        raise ScriptError(f"The export reads CSV and TSV files; this dataset's file is {how.get('format')!r}.")
    decisions = plan.get("decisions", [])
    by_step = {step: [e for e in decisions if e["step"] == step] for step in ("cleaning", "outliers")}
    formats = {e["column"]: e["params"]["format"] for e in by_step["cleaning"]
               if e["action"] == "convert_datetime" and e["params"].get("format")}
    body = ["    frame = frame.copy()"]
    for e in by_step["cleaning"]:
        if e["column"] is not None and (line := _type_step(e, plan)):
            body += _comment(e["message"]) + [f"    {x}" for x in line]
    body += [f"    {x}" for x in _codes(plan)]
    frame_steps = {"drop_duplicate_rows": "frame = frame[~frame.duplicated(keep='first')]",
                   "drop_rows_missing_target": f"frame = frame[frame[{plan['options']['target']!r}].notna()]"}
    for e in by_step["cleaning"]:
        if e["action"] in frame_steps:
            body += _comment(e["message"]) + [f"    {frame_steps[e['action']]}"]
        elif e["action"] == "disguised_missing":
            col = e["column"]
            body += _comment(e["message"]) + [
                f"    frame[{col!r}] = frame[{col!r}].where(~frame[{col!r}].isin({e['params']['values']!r}))"]
    messages = {e["column"]: e["message"] for e in by_step["cleaning"] if e["action"] in (
        "repair_from_dependency", "fill_from_dependency", "repair_decimal_shift")}
    if not repairs.get("complete", True):
        body.append("    # INCOMPLETE: the run repaired more cells one by one than are listed here; the rest are not.")
    body += _cells({c: {int(r): v for r, v in cells.items()} for c, cells in repairs.get("cells", {}).items()},
                   messages)
    body += _gaps(plan, bool(plan["options"].get("missing_indicators")))
    if plan["options"].get("outliers", "off") != "off":
        body += _outliers(plan, by_step["outliers"])
    body.append("    return frame.reset_index(drop=True)")
    read = {k: how.get(k) for k in ("delimiter", "encoding", "missing_tokens")} | {
        "text_columns": how.get("text_columns") or []}
    headers = {name: "" for name in how.get("blank_headers") or []}
    script = _TEMPLATE.format(origin=origin, copied=COPIED_SOURCE, read=_literal(read), formats=_literal(formats),
                              headers=_literal(headers), body="\n".join(body))
    ast.parse(script)  # what the data put into it (names, values, prose) is literals and comments, nothing else
    return script


_TEMPLATE = '''#!/usr/bin/env python3
"""A cleaning plan exported by Wrangler{origin}: the service's cleaning of a file, as a standalone script.

    python plan.py RAW_FILE OUT.csv [--keep-formulas]

It reads RAW_FILE as the service read it and applies the plan's decisions in the service's order, each with
a comment saying why; it needs pandas and numpy only. The functions it calls, at the end, are the service's
own (copied from its source). Cells the service repaired one by one on the file's own evidence (entity
consistency, decimal slips) are listed as they were decided, by raw row: another file gets them only by
uploading it to the service. OUT.csv is the cleaned download's table (formula-like text escaped with ', as
the download does; --keep-formulas as its formulas=keep).
"""
from __future__ import annotations

import math
import re
import sys
import warnings
from typing import Callable

import numpy as np
import pandas as pd

READ = {read}
FORMATS = {formats}  # the strftime pattern each date column is written back in (its own)
BLANK_HEADERS = {headers}  # columns whose header was empty in the file


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """The plan's steps, in the service's order."""
{body}


def main(argv: list[str]) -> int:
    keep = "--keep-formulas" in argv  # as the download's formulas=keep: formula-like text left as it is
    files = [a for a in argv[1:] if a != "--keep-formulas"]
    if len(files) != 2:
        print("usage: python plan.py RAW_FILE OUT.csv [--keep-formulas]", file=sys.stderr)
        return 2
    written(clean(read_table(files[0], READ)), FORMATS, BLANK_HEADERS, keep).to_csv(files[1], index=False)
    return 0


# The service's own functions the steps above call, copied from its source.


{copied}


if __name__ == "__main__":
    sys.exit(main(sys.argv))
'''
