"""The cleaning plan: a run's decisions and learned expectations as one JSON document, and what a replay pins from it."""
from __future__ import annotations

import math

import pandas as pd

from .choose import regular_series
from .decide import MAX_CONSTANT, DecisionError, decision, validate_decision
from .entries import bounded, is_number
from .export import formula_like
from .impute import LEARNED

PLAN_VERSION = 1
# Beside a run's other result files; the repairs (cells judged one by one) are what its exported script lists.
PLAN_FILE, VALIDATION_FILE, REPAIRS_FILE = "plan.json", "validation.json", "repairs.json"
FILL_PREFIX = "impute_"
# The options a plan carries to the next batch: what the cleaning did must not depend on the new upload's form.
CARRIED = ("target", "drop_threshold", "parse_threshold", "missing_indicators", "outliers", "outlier_method",
           "outlier_columns", "features", "scaling", "na_values")
FILLS = ("leave_missing", "drop_column")  # gap decisions logged without the impute_ prefix
MAX_TEXT = 4096  # characters of a learned text fill value (a category's most frequent value)
MAX_REASONING = 1000
MAX_FITS = 32  # a regression fits one model per pattern of missing predictors (at most 5 predictors)
MAX_RULES = 200  # dependency rules a plan keeps (the strongest): each costs a vote over every row


class PlanError(ValueError):
    """A plan this pipeline cannot apply (its version, or a decision it does not know)."""


class PlanViolation(RuntimeError):
    """A strict replay whose new batch broke the plan's expectations or skipped some of its decisions."""


def _missing_decisions(fill_logs: list[dict]) -> dict[str, dict]:
    """Each gap decision as a replay applies it: the action and what was learned (the fill value, whole)."""
    out = {}
    for e in fill_logs:
        action = e["action"].removeprefix(FILL_PREFIX)
        if not (e["action"].startswith(FILL_PREFIX) or action in FILLS) or e["column"] is None \
                or "reasoning" not in e["params"]:  # a sparse column's drop_column is no gap decision
            continue
        params = {k: v for k, v in e["params"].items() if k not in ("reasoning", "confidence", "reason", "model")}
        out[e["column"]] = {"action": action, "params": params, "source": e["source"],
                            "reasoning": e["params"].get("reasoning"),
                            **({"model": e["params"]["model"]} if "model" in e["params"] else {})}
    return out


def _parse_rules(type_logs: list[dict]) -> dict[str, dict]:
    """Per column, how its text was read: the conversion and its learned parameters (date format, unit...)."""
    rules: dict[str, dict] = {}
    for e in type_logs:
        if e["column"] is not None and e["action"].startswith("convert_"):
            rules.setdefault(e["column"], {})[e["action"].removeprefix("convert_")] = bounded(e["params"])
    return rules


def _categories(cleaning: list[dict], expectations: dict) -> dict[str, dict]:
    """Per text column, its category decisions: typos → the value they meant, and the canonical spellings
    that case and spacing variants are mapped to (a batch's own, or the allowed values)."""
    out: dict[str, dict] = {}
    for e in cleaning:
        if e["action"] == "repair_typos":
            out.setdefault(e["column"], {})["typos"] = e["params"]["mapping"]
        elif e["action"] == "unify_category_variants" and e["params"].get("spellings") is not None:
            out.setdefault(e["column"], {})["spellings"] = e["params"]["spellings"]
    for col, expected in expectations.get("columns", {}).items():
        if expected.get("type") == "text" and expected.get("allowed"):
            found = out.setdefault(col, {})
            found.setdefault("spellings", [str(v) for v in expected["allowed"]])
    return {col: {"typos": found.get("typos", {}), **found} for col, found in out.items()}


def build_plan(load_entry: dict, options, result) -> dict:
    """The plan of a completed run. Decisions are the run's own log entries (one source for both); the
    gap decisions and roles are what a replay pins; the expectations are what the next batch is checked on."""
    logs = result.logs
    cleaning = logs.get("cleaning", [])
    parse = _parse_rules(cleaning)
    sources = {e["column"]: e["source"] for e in cleaning if e["column"] is not None and e["action"].startswith(
        ("detect_", "convert_"))}
    roles = result.summary.get("roles", {})
    categories = _categories(cleaning, result.expectations)
    users = {**users_roles(options.plan, roles), **options.roles}  # a user's role stays the user's, plan to plan
    columns = {col: {"role": role, "type": result.expectations["columns"].get(col, {}).get("type"),
                     "decided_by": "user" if col in users else sources.get(col, "heuristic"),
                     **({"parse": parse[col]} if col in parse else {}),
                     **({"categories": categories[col]} if col in categories else {})}
               for col, role in roles.items()}
    load = load_entry["params"]
    return {
        "plan_version": PLAN_VERSION,
        # How to read the file again: what the exported script (script.py) does; a replay sniffs its own file.
        "import": {**{k: load.get(k) for k in ("format", "encoding", "delimiter", "missing_tokens", "text_columns")},
                   "blank_headers": list(load.get("headers") or {})},
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in
                    ((k, getattr(options, k)) for k in CARRIED)},
        "columns": columns,
        "missing": _missing_decisions(cleaning),
        # What a replay applies instead of looking afresh (an applied plan's carried on, so none fade away when a
        # batch happens to lack a column or a stand-in): stand-ins for a missing value, and the rules entity
        # consistency repairs by (each group's majority votes).
        "stand_ins": _carried(options.plan, "stand_ins", {e["column"]: e["params"]["values"] for e in cleaning
                                                          if e["action"] == "disguised_missing"}),
        "dependencies": _carried(options.plan, "dependencies", result.dependencies[:MAX_RULES]),
        "outliers": _outliers(logs.get("outliers", [])),
        "expectations": result.expectations,
        "features": result.feature_descriptions,
        "decisions": [_decision(step, e) for step, entries in logs.items() for e in entries
                      if e["action"] != "outlier_fences"],  # kept whole in "outliers"
    }


def _decision(step: str, e: dict) -> dict:
    """A log entry as shown (long text cut), but for the names the exported script applies it by: whole."""
    shown = {"step": step, "column": e["column"],
             **bounded({k: e[k] for k in ("action", "source", "count", "params", "message")})}
    if "flag_column" in e["params"]:
        shown["params"]["flag_column"] = e["params"]["flag_column"]
    return shown


def _outliers(outlier_logs: list[dict]) -> dict:
    """Every checked column's outlier fences, exact (the strategy is among the plan's options)."""
    found = next((e["params"] for e in outlier_logs if e["action"] == "outlier_fences"), None)
    return {"fences": found["fences"]} if found else {}


def pinned_fences(plan: dict) -> dict[str, dict]:
    """The plan's outlier fences per column: the next batch's values are judged by them, not by its own spread."""
    return (plan.get("outliers") or {}).get("fences") or {}


def _carried(plan: dict | None, key: str, found):
    return found if plan is None or plan.get(key) is None else plan[key]


def check_version(plan: dict) -> None:
    if plan.get("plan_version") != PLAN_VERSION:
        raise PlanError(f"plan_version must be {PLAN_VERSION}; got {plan.get('plan_version')!r}")


def users_roles(plan: dict | None, columns) -> dict[str, str]:
    """The roles a user set for the plan's batch, for the columns this batch has: the type repair sees them."""
    present = set(map(str, columns))
    return {c: spec["role"] for c, spec in (plan or {}).get("columns", {}).items()
            if c in present and spec.get("role") and spec.get("decided_by") == "user"}


def _fits(role: str, series: pd.Series) -> bool:
    """Whether the column, as this batch's type repair left it, can take the role (a number column's text
    no longer parsing is a `type` violation to report, not a role to force on text)."""
    if role in ("numeric", "coordinate"):
        return is_number(series)
    if role == "datetime":
        return pd.api.types.is_datetime64_any_dtype(series)
    if role == "boolean":
        return pd.api.types.is_bool_dtype(series)
    return True


def planned_roles(plan: dict | None, frame: pd.DataFrame) -> dict[str, str]:
    """The plan's roles that this batch's columns can take; the others are detected afresh."""
    return {c: spec["role"] for c, spec in (plan or {}).get("columns", {}).items()
            if c in frame.columns and spec.get("role") and _fits(spec["role"], frame[c])}


def _learned_value(value, series: pd.Series):
    """A fill value a plan carries, checked like any untrusted input against the column it fills."""
    if pd.api.types.is_bool_dtype(series):
        ok = isinstance(value, bool)
    elif pd.api.types.is_numeric_dtype(series):
        ok = _finite(value) and abs(value) < MAX_CONSTANT
    elif pd.api.types.is_datetime64_any_dtype(series):
        moment = pd.to_datetime(value, errors="coerce") if isinstance(value, str) else pd.NaT
        ok = pd.notna(moment) and (moment.tzinfo is None) == (series.dt.tz is None)  # no naive/aware mix
    else:
        ok = isinstance(value, str) and len(value) <= MAX_TEXT and not formula_like(value)
    if not ok:
        raise DecisionError(f"the learned fill value {str(value)[:60]!r} does not fit this column")
    return value


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _learned_model(model, predictors: list[str]) -> dict:
    """A regression a plan carries (its fits, range, decimals and fallback), checked like any untrusted input:
    it may only use the decision's predictors, and every number must be finite."""
    fits = model.get("fits") if isinstance(model, dict) else None
    ok = isinstance(fits, list) and len(fits) <= MAX_FITS and isinstance(model.get("range"), (list, tuple)) \
        and len(model["range"]) == 2 and all(map(_finite, model["range"])) and model["range"][0] <= model["range"][1] \
        and isinstance(model.get("decimals"), int) and 0 <= model["decimals"] <= 6 and _finite(model.get("fallback"))
    for fit in fits if ok else []:
        terms = fit.get("terms") if isinstance(fit, dict) else None
        ok = ok and isinstance(fit.get("predictors"), list) and set(fit["predictors"]) <= set(predictors) \
            and isinstance(terms, (list, tuple)) and all(isinstance(t, (list, tuple)) and len(t) == 2 and t[0] in fit["predictors"]
                                                and (t[1] is None or isinstance(t[1], str)) for t in terms) \
            and isinstance(fit.get("coefficients"), list) and len(fit["coefficients"]) == len(terms) + 1 \
            and all(map(_finite, fit["coefficients"]))
    if not ok:
        raise DecisionError("the plan's regression model is not one this pipeline can apply")
    return {"fits": fits, "range": model["range"], "decimals": model["decimals"], "fallback": model["fallback"]}


def pinned_columns(plan: dict) -> dict[str, dict]:
    """Per column, what the type repair applies as the plan has it: the typo mapping and canonical spellings,
    and for dates the day/month order and the format they are written back in."""
    pinned: dict[str, dict] = {}
    for col, spec in plan.get("columns", {}).items():
        found = dict(spec.get("categories") or {})
        dates = (spec.get("parse") or {}).get("datetime")
        if dates is not None:
            found["dates"] = {k: dates[k] for k in ("dayfirst", "format") if dates.get(k) is not None}
        if found:
            pinned[col] = found
    return pinned


def replayed_gaps(plan: dict, frame: pd.DataFrame, roles: dict[str, str], target: str | None,
                  rules: list[dict], present) -> tuple[dict[str, dict], list[dict]]:
    """The plan's gap decisions for `frame` (this batch's columns `present`, but those too sparse to fill),
    each validated as an advisor's answer is (a plan may come from anybody), and what could not be applied:
    a column with gaps and no valid decision is left missing."""
    decided, series_by = plan.get("missing", {}), regular_series(frame, roles)
    columns = [str(c) for c in frame.columns]
    plans, skipped = {}, []
    for col in frame.columns:
        if col == target or not frame[col].isna().any() or not frame[col].notna().any():
            continue
        known = decided.get(col)
        try:
            if known is None:
                raise DecisionError("the plan has no decision for gaps in this column")
            determinants = [r["determinant"] for r in rules if r["dependent"] == col and r["determinant"] != target]
            checked = validate_decision(known, roles.get(col, "text"), frame[col], columns, source="plan",
                                        target=target, series_by=series_by, determinants=determinants)
            if checked["action"] in LEARNED and known.get("params", {}).get("value") is not None:
                checked["params"]["value"] = _learned_value(known["params"]["value"], frame[col])
            if checked["action"] == "regression" and known.get("model") is not None:
                checked["model"] = _learned_model(known["model"], checked["params"]["predictors"])
        except DecisionError as exc:
            skipped.append({"column": col, "reason": f"{exc}: its gaps are left missing"})
            checked = decision("leave_missing", "", source="plan")
        # The source says "plan"; the reasoning stays the decision's own (cut: a plan's text is bounded).
        checked["reasoning"] = str((known or {}).get("reasoning") or "decided by the applied plan")[:MAX_REASONING]
        plans[col] = checked
    for col in decided:
        if col not in present:
            skipped.append({"column": col, "reason": "the column is not in this file: its gap decision is skipped"})
    return plans, skipped


def validation_summary(validation: dict, plan: dict | None) -> dict:
    """The validation report in brief, for the dataset's status: counts by rule, and where the plan came from."""
    rules: dict[str, int] = {}
    for v in validation["violations"]:
        rules[v["rule"]] = rules.get(v["rule"], 0) + 1
    return {"plan": (plan or {}).get("origin"), "violations": len(validation["violations"]), "by_rule": rules,
            "skipped": len(validation["skipped"]), "passed": validation["passed"]}
