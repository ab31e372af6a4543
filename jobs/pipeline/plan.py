"""Planning missing-value repairs: which columns the advisor decides, validation, heuristic fallback."""
from __future__ import annotations

import logging
from typing import Callable

import pandas as pd

from .entries import bounded, plain
from .choose import gather_evidence, heuristic_decision, regular_series
from .decide import ALLOWED, DecisionError, validate_decision
from .names import ADVISED, Mode
from .profile import profile_column

log = logging.getLogger(__name__)
Advise = Callable[[dict], dict]
SMART_SHARE, DEEP_SHARE, DEEP_COLUMNS = 0.20, 0.10, 3
SAMPLE_ROWS = 10


def advisor_columns(frame: pd.DataFrame, mode: str) -> list[str]:
    """Smart: every column over 20% missing. Deep: the 3 most-missing columns over 10%."""
    shares = frame.isna().mean().sort_values(ascending=False, kind="stable")
    if mode == Mode.SMART:
        return [str(c) for c, s in shares.items() if s > SMART_SHARE]
    if mode == Mode.DEEP:
        return [str(c) for c, s in shares.items() if s > DEEP_SHARE][:DEEP_COLUMNS]
    return []


def sample_rows(frame: pd.DataFrame, columns: list[str], n: int = SAMPLE_ROWS) -> list[dict]:
    """The first rows, plus rows where the columns in question are present, as plain values (long text cut)."""
    rows = frame.head(n)
    if columns:
        present = frame[frame[columns].notna().any(axis=1)].head(n)
        rows = pd.concat([rows, present[~present.index.isin(rows.index)]])
    return [{str(k): bounded(plain(v)) for k, v in row.items()} for row in rows.to_dict("records")]


def _profile(series: pd.Series, col: str) -> dict:
    """The column's statistics for the advisor, long values cut; the name stays whole (answers are matched by it)."""
    return {**bounded(profile_column(series, col)), "column": col}


def plan_missing(frame: pd.DataFrame, roles: dict[str, str], mode: str, target: str | None = None,
                 advise: Advise | None = None, rules: list[dict] | None = None,
                 repairs: list[dict] | None = None) -> tuple[dict[str, dict], dict]:
    """A decision per column with missing values, and what happened with the advisor.

    `rules` (the dependencies found) and `repairs` (log entries of the repairs already made) are the
    advisor's evidence; a 'dependency' answer must name one of the column's rules.
    """
    numeric = [c for c, r in roles.items() if r == "numeric" and c in frame and c != target]
    series_by = regular_series(frame, roles)
    gaps = [c for c in frame.columns if frame[c].isna().any() and frame[c].notna().any() and c != target]
    evidence = gather_evidence(frame, roles) if gaps else None
    missing = frame.isna().mean()
    plans = {c: heuristic_decision(frame, c, roles[c], series_by, evidence, missing, target) for c in gaps}
    asked = advisor_columns(frame[gaps], mode) if gaps and mode in ADVISED else []
    meta: dict = {"asked": asked, "used": False, "error": None, "report": None, "model": None}
    if not asked:
        return plans, meta
    if advise is None:
        meta["error"] = "no advisor configured (GEMINI_API_KEY unset)"
        for col in asked:
            plans[col]["advisor_error"] = meta["error"]
        return plans, meta
    determinants = {c: [r["determinant"] for r in rules or [] if r["dependent"] == c and r["determinant"] != target]
                    for c in asked}
    request = {"mode": mode, "target": target, "ordered_in_time": series_by is not None,
               "columns": [_profile(frame[c], c) for c in asked],
               "allowed": {c: list(ALLOWED[roles[c]]) for c in asked},  # the target is never asked about
               "roles": {c: roles[c] for c in asked},
               "dependencies": [bounded(r) for r in rules or [] if r["dependent"] in asked or r["determinant"] in asked],
               "repairs": [bounded({k: e[k] for k in ("column", "action", "count", "message")})
                           for e in repairs or [] if e["column"] in asked][:30],
               "numeric_columns": numeric, "rows": sample_rows(frame, asked), "want_report": mode == Mode.DEEP}
    try:
        answer = advise(request)
        decisions = answer.get("columns") if isinstance(answer, dict) else None
        if not isinstance(decisions, dict):
            raise DecisionError("the answer has no per-column decisions")
    except Exception as exc:  # noqa: BLE001 - any advisor failure means the heuristic decides
        meta["error"] = f"{type(exc).__name__}: {exc}"[:300]
        for col in asked:
            plans[col]["advisor_error"] = meta["error"]
        return plans, meta
    meta.update(used=True, model=answer.get("model"), report=answer.get("report"))
    columns = [str(c) for c in frame.columns]
    for col in asked:  # one column at a time: whatever goes wrong with one answer, its heuristic decides
        try:
            plans[col] = validate_decision(decisions.get(col), roles[col], frame[col], columns, target=target,
                                           series_by=series_by, determinants=determinants[col])
        except DecisionError as exc:
            plans[col]["advisor_error"] = f"rejected advisor answer: {exc}"
        except Exception as exc:  # noqa: BLE001 - a flaw in validation must not accept the answer or fail the job
            log.warning("validating the advisor's answer for column %r failed", col, exc_info=True)
            plans[col]["advisor_error"] = f"advisor answer not validated: {type(exc).__name__}: {exc}"[:300]
    return plans, meta
