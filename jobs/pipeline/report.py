"""Deep-mode cleaning report: what was changed, flagged and left alone (with examples), a summary, recommendations."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .entries import bounded, plain, short

MAX_TEXT = 2000
MAX_ITEMS = 50  # per list: the report stays small on wide tables
MAX_EXAMPLES = 3
MAX_WHY = 300
MAX_VALUE = 60
ROW_CHANGES = ("drop_duplicate_rows", "drop_rows_missing_target", "remove_outlier_rows")
ROLE_ACTIONS = ("detect_id_like", "detect_code", "detect_role", "detect_constant")
FLAGGED = ("outliers_flag", "outliers_reported", "possible_sentinel", "placeholder_kept", "mixed_units")
CHANGED = ("outliers_clip", "outliers_null", "outliers_median", "outliers_remove", "remove_outlier_rows",
           "unify_category_variants", "repair_typos", "repair_from_dependency", "fill_from_dependency",
           "repair_decimal_shift", "disguised_missing")


def _examples(frame: pd.DataFrame, col: str, plan: dict, n: int = 3) -> list[dict]:
    """Rows where the column is missing, with the columns the decision leaned on."""
    context = [c for c in plan.get("params", {}).get("predictors", []) if c in frame][:3]
    rows = frame.loc[frame[col].isna(), [col, *context]].head(n)
    return [bounded({str(k): plain(v) for k, v in row.items()}) for row in rows.to_dict("records")]


def _kind(entry: dict, log: str) -> str | None:
    """'changed', 'flagged', 'left_alone' or None (a note that changes nothing, or an unknown action)."""
    action = str(entry.get("action") or "")
    if action in FLAGGED:
        return "flagged"
    if action.startswith(("leave_", "keep_")) or action in ROLE_ACTIONS:
        return "left_alone"
    if log == "features":  # model-ready copy only: the cleaned data is not touched there
        return None
    if action.startswith("convert_"):
        return "changed" if _lost(entry) else None  # a lossless conversion changes only the representation
    if action.startswith(("impute_", "drop_")) or action in CHANGED:
        return "changed"
    return None


def _lost(entry: dict) -> int:
    value = (entry.get("params") or {}).get("unparseable_to_missing") or 0
    return int(value) if isinstance(value, (int, float)) else 0


def _show(value) -> str:
    value = plain(value)
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def _number(value) -> float | None:
    value = plain(value)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _clipped(value: float, lower: float, upper: float, integer: bool) -> float:
    if integer and math.ceil(lower) <= math.floor(upper):
        lower, upper = math.ceil(lower), math.floor(upper)
    return min(max(value, lower), upper)


def _given(params: dict) -> list[str]:
    """Examples a step wrote itself: a {before: after} mapping or a list of values."""
    raw = params.get("examples", params.get("unparseable_examples"))
    if isinstance(raw, dict):
        return [f"{_show(k)} → {_show(v)}" for k, v in list(raw.items())[:MAX_EXAMPLES]]
    if isinstance(raw, list):
        return [_show(v) for v in raw[:MAX_EXAMPLES]]
    return []


def _row_labels(before: pd.DataFrame, col: str, roles: dict) -> list[str]:
    """A few rows where `col` is missing, named by an identifier or code column when there is one."""
    if col not in before.columns or not isinstance(before[col], pd.Series):
        return []
    keys = [c for c, r in roles.items() if r in ("id", "code") and c != col and c in before.columns][:1]
    labels = []
    for position in np.flatnonzero(before[col].isna().to_numpy())[:MAX_EXAMPLES]:
        key = before[keys[0]].iloc[position] if keys else None
        labels.append(f"{keys[0]}={_show(key)}" if keys and pd.notna(key) else f"row {position}")
    return labels


def _entry_examples(entry: dict, before: pd.DataFrame, roles: dict) -> list[str]:
    action, params, col = entry["action"], entry.get("params") or {}, entry.get("column")
    values = params.get("examples") if isinstance(params.get("examples"), list) else []
    lower, upper = _number(params.get("lower")), _number(params.get("upper"))
    if action == "outliers_clip" and lower is not None and upper is not None:
        integer = "int" in str((entry.get("before") or {}).get("dtype", "")).lower()
        shown = []
        for v in values[:MAX_EXAMPLES]:
            number = _number(v)
            shown.append(f"{_show(v)} → {_show(_clipped(number, lower, upper, integer))}" if number is not None
                         else _show(v))
        return shown
    if action == "outliers_median" and "median" in params:
        return [f"{_show(v)} → {_show(params['median'])}" for v in values[:MAX_EXAMPLES]]
    if action == "outliers_null":
        return [f"{_show(v)} → missing" for v in values[:MAX_EXAMPLES]]
    if action == "outliers_remove":
        return [f"{_show(v)} (row removed)" for v in values[:MAX_EXAMPLES]]
    given = _given(params)
    if given:
        return given
    if action.startswith("impute_") and "value" in params:
        return [f"{where}: missing → {_show(params['value'])}" for where in _row_labels(before, col, roles)] \
            or [f"missing → {_show(params['value'])}"]
    if action.startswith(("impute_", "leave_")) and col is not None:
        return [f"{where}: missing" for where in _row_labels(before, col, roles)]
    if action in ROLE_ACTIONS and col in before.columns and isinstance(before[col], pd.Series):
        return [_show(v) for v in before[col].dropna().head(200).unique()[:MAX_EXAMPLES]]
    return []


def _count(entry: dict) -> int:
    action, params = entry["action"], entry.get("params") or {}
    if action in FLAGGED and isinstance(params.get("flagged"), (int, float)):
        return int(params["flagged"])
    if action.startswith("convert_"):
        return _lost(entry)
    value = entry.get("count") or 0
    return int(value) if isinstance(value, (int, float)) else 0


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _why(entry: dict) -> str:
    """The step's own message; for a value left alone, the reason first (it is what a reader needs)."""
    params = entry.get("params") or {}
    reason = params.get("reason") if isinstance(params.get("reason"), str) and params["reason"].strip() else None
    message = entry.get("message") if isinstance(entry.get("message"), str) and entry["message"].strip() else None
    if reason and entry["action"].startswith("leave_"):
        text = _sentence(reason)
    else:
        text = message or reason or params.get("reasoning") or entry["action"].replace("_", " ")
        text = _sentence(str(text))
    return text if len(text) <= MAX_WHY else text[:MAX_WHY - 1] + "…"


def classify(logs: dict[str, list[dict]], before: pd.DataFrame, roles: dict) -> dict[str, list[dict]]:
    """Every log entry that matters to a reader, in three lists, largest counts first (uncapped)."""
    lists: dict[str, list[dict]] = {"changed": [], "flagged": [], "left_alone": []}
    for log, entries in (logs or {}).items():
        for entry in entries or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("action"), str):
                continue
            kind = _kind(entry, log)
            if kind is None:
                continue
            column = entry.get("column")
            lists[kind].append({"column": None if column is None else short(str(column)), "action": entry["action"],
                                "count": _count(entry), "why": _why(entry),
                                "examples": _entry_examples(entry, before, roles)})
    for items in lists.values():
        items.sort(key=lambda item: -item["count"])
    return lists


def _columns(items: list[dict], limit: int = 5) -> str:
    names = list(dict.fromkeys(str(i["column"]) for i in items if i["column"] is not None))
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _eg(items: list[dict]) -> str:
    shown = []
    for item in items:
        if item["examples"]:
            example = item["examples"][0]
            column = f"{item['column']}{' at' if ': ' in example else ''} " if item["column"] else ""
            shown.append(column + example)
    return f" (e.g. {'; '.join(shown[:2])})" if shown else ""


def _recommend(lists: dict[str, list[dict]], reasoning: list[dict], summary: dict) -> list[str]:
    changed, flagged, left = lists["changed"], lists["flagged"], lists["left_alone"]

    def by(items: list[dict], *prefixes: str) -> list[dict]:
        return [i for i in items if i["action"].startswith(prefixes)]

    recs = []
    if marked := by(flagged, "outliers_flag"):
        recs.append(f"Review the values flagged in {_columns(marked)}{_eg(marked)}: they lie outside the fences "
                    "and were left unchanged.")
    if tails := by(flagged, "outliers_reported"):
        recs.append(f"Look at the heavy tails of {_columns(tails)}{_eg(tails)}: so many values lie outside the "
                    "fences that they are a feature of the data; left unchanged.")
    if moved := [i for i in by(changed, "outliers_") if i["action"] != "outliers_reported"]:
        recs.append(f"Check the outliers changed in {_columns(moved)}{_eg(moved)}: if they are genuine, upload "
                    "again with outliers=flag.")
    if lost := by(changed, "convert_"):
        recs.append(f"Unparseable values in {_columns(lost)}{_eg(lost)} were set to missing: declare such tokens with "
                    "na_values or fix them at the source.")
    if merged := by(changed, "unify_category_variants"):
        recs.append(f"Check the merged spellings in {_columns(merged)}{_eg(merged)}.")
    for item in reasoning:
        if item["missing_share"] > 0.3:
            recs.append(f"{item['column']}: {item['missing_share']:.0%} missing — find out why at the source; "
                        "imputed values carry little information.")
    if filled := by(changed, "impute_"):
        total = sum(i["count"] for i in filled)
        recs.append(f"{_plural(total, 'gap')} in {_columns(filled)} {'was' if total == 1 else 'were'} filled with "
                    f"estimates{_eg(filled)}: upload with "
                    "missing_indicators=true to keep them apart from observed values.")
    for item in by(left, "leave_")[:3]:
        recs.append(f"{item['column']}: {_plural(item['count'], 'gap')} left missing. {item['why']}")
    for item in by(left, "keep_")[:3]:
        recs.append(f"{item['column']}: {item['why']}")
    if roles := [i for i in left if i["action"] in ("detect_id_like", "detect_code")]:
        recs.append(f"{_columns(roles)} treated as identifiers or codes and kept exact: if one is a quantity, "
                    "set its role at upload.")
    if summary.get("duplicates_removed"):
        recs.append(f"{summary['duplicates_removed']:,} exact duplicate rows were removed: check the export for "
                    "repeated batches.")
    if dropped := [i for i in changed if i["action"] == "drop_column"]:
        recs.append(f"Columns dropped: {_columns(dropped)} ({dropped[0]['why'].rstrip('.')}).")
    return recs[:10]


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _totals(lists: dict[str, list[dict]]) -> dict[str, int]:
    changed = lists["changed"]
    return {
        "cells": sum(i["count"] for i in changed if i["action"] not in ROW_CHANGES
                     and i["action"] not in ("drop_column", "outliers_remove")),
        "rows": sum(i["count"] for i in changed if i["action"] in ROW_CHANGES),
        "columns": sum(i["action"] == "drop_column" for i in changed),
        "flagged": sum(i["count"] for i in lists["flagged"]),
        "gaps": sum(i["count"] for i in lists["left_alone"] if i["action"] == "leave_missing"),
    }


def rule_based_report(before: pd.DataFrame, plans: dict[str, dict], asked: list[str], summary: dict,
                      logs: dict[str, list[dict]]) -> dict:
    """The report written from the steps' own log entries, for when the advisor is not available."""
    reasoning = []
    for col in asked:
        plan = plans.get(col)
        if plan is None or col not in before.columns:
            continue
        share = float(before[col].isna().mean())
        reasoning.append({
            "column": short(col), "missing_share": round(share, 4), "action": plan["action"], "source": plan["source"],
            "explanation": f"{share:.0%} of {short(col)!r} is missing; {plan['action']} because {plan['reasoning']}.",
            "examples": _examples(before, col, plan),
        })
    lists = classify(logs, before, summary.get("roles") or {})
    totals = _totals(lists)
    recommendations = _recommend(lists, reasoning, summary)
    if not any(lists.values()):
        recommendations = ["No further action needed: nothing was changed, flagged or left alone."]
    elif not recommendations:
        recommendations = ["Nothing needs review: the changed, flagged and left-alone lists say what happened."]
    text = (f"{summary.get('rows_in', len(before)):,} rows × {summary.get('columns_in', before.shape[1])} columns "
            f"in, {summary.get('rows_out', len(before)):,} × {summary.get('columns_out', before.shape[1])} out; "
            f"{counted(totals)}; {_plural(len(reasoning), 'column')} examined closely.")
    return {"source": "heuristic", "reasoning": reasoning, "summary": text, "recommendations": recommendations,
            "totals": totals, **{kind: items[:MAX_ITEMS] for kind, items in lists.items()}}


def counted(totals: dict[str, int]) -> str:
    """What the run did, in numbers: cells changed, values flagged, gaps left missing, rows/columns removed."""
    n = {key: totals.get(key, 0) for key in ("cells", "flagged", "gaps", "rows", "columns")}
    removed = "".join(f"; {_plural(n[key], key[:-1])} removed" for key in ("rows", "columns") if n[key])
    return (f"{_plural(n['cells'], 'cell')} changed, {_plural(n['flagged'], 'value')} flagged and left unchanged, "
            f"{_plural(n['gaps'], 'gap')} left missing{removed}")


def merge_advisor_report(base: dict, advised: object) -> dict:
    """The advisor's prose where it has the asked shape (else `base` as it is); our examples, facts and counts."""
    if not isinstance(advised, dict):
        return base
    summary, recs, notes = advised.get("summary"), advised.get("recommendations"), advised.get("reasoning")
    if not isinstance(summary, str) or not isinstance(recs, list) or not all(isinstance(r, str) for r in recs):
        return base
    by_column = {short(n["column"]): n["explanation"] for n in notes if isinstance(n, dict)
                 and isinstance(n.get("column"), str) and isinstance(n.get("explanation"), str)} \
        if isinstance(notes, list) else {}
    reasoning = [{**item, "explanation": (by_column.get(item["column"]) or item["explanation"])[:MAX_TEXT]}
                 for item in base["reasoning"]]
    facts = {kind: base.get(kind, []) for kind in ("changed", "flagged", "left_alone")}
    totals = base.get("totals") or _totals(facts)  # the advisor wrote before imputation and outliers ran
    text = summary.strip()[:MAX_TEXT]
    text = f"{_sentence(text)} " if text else ""
    return {"source": "advisor", "reasoning": reasoning, "summary": f"{text}After cleaning: {counted(totals)}.",
            "recommendations": [r[:MAX_TEXT] for r in recs[:10]] or base["recommendations"], "totals": totals,
            **facts}
