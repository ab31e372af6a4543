"""Deep-mode cleaning report: reasoning with examples, a summary and recommendations."""
from __future__ import annotations

import pandas as pd

from .entries import plain

MAX_TEXT = 2000


def _examples(frame: pd.DataFrame, col: str, plan: dict, n: int = 3) -> list[dict]:
    """Rows where the column is missing, with the columns the decision leaned on."""
    context = [c for c in plan.get("params", {}).get("predictors", []) if c in frame][:3]
    rows = frame.loc[frame[col].isna(), [col, *context]].head(n)
    return [{str(k): plain(v) for k, v in row.items()} for row in rows.to_dict("records")]


def rule_based_report(before: pd.DataFrame, plans: dict[str, dict], columns: list[str], summary: dict,
                      outlier_logs: list[dict]) -> dict:
    """The report written from the heuristics' own reasons, for when the advisor is not available."""
    reasoning = []
    for col in columns:
        plan = plans.get(col)
        if plan is None:
            continue
        share = float(before[col].isna().mean())
        reasoning.append({
            "column": col, "missing_share": round(share, 4), "action": plan["action"], "source": plan["source"],
            "explanation": f"{share:.0%} of {col!r} is missing; {plan['action']} because {plan['reasoning']}.",
            "examples": _examples(before, col, plan),
        })
    recommendations = []
    for item in reasoning:
        if item["missing_share"] > 0.3:
            recommendations.append(f"{item['column']}: {item['missing_share']:.0%} missing — find out why at the "
                                   "source; imputed values carry little information.")
    reported = [e["column"] for e in outlier_logs if e["action"] == "outliers_reported"]
    if reported:
        recommendations.append(f"Review the heavy tails of {', '.join(reported[:5])}: more than 10% of values lie "
                               "outside the fences, so they were left unchanged.")
    if summary.get("duplicates_removed"):
        recommendations.append(f"{summary['duplicates_removed']:,} exact duplicate rows were removed: check the "
                               "export for repeated batches.")
    recommendations = recommendations or ["No further action needed: the gaps were small and well explained."]
    text = (f"{summary['rows_in']:,} rows × {summary['columns_in']} columns in, {summary['rows_out']:,} × "
            f"{summary['columns_out']} out; {summary['missing_in']:,} missing cells repaired; "
            f"{len(reasoning)} columns examined closely.")
    return {"source": "heuristic", "reasoning": reasoning, "summary": text, "recommendations": recommendations}


def merge_advisor_report(base: dict, advised: object) -> dict:
    """Take the advisor's prose where it is well formed; keep our examples and facts."""
    if not isinstance(advised, dict):
        return base
    summary = advised.get("summary")
    recs = advised.get("recommendations")
    notes = advised.get("reasoning")
    if not isinstance(summary, str) or not isinstance(recs, list) or not all(isinstance(r, str) for r in recs):
        return base
    by_column = {n.get("column"): n for n in notes if isinstance(n, dict)} if isinstance(notes, list) else {}
    reasoning = []
    for item in base["reasoning"]:
        note = by_column.get(item["column"], {})
        explanation = note.get("explanation") if isinstance(note.get("explanation"), str) else None
        reasoning.append({**item, "explanation": (explanation or item["explanation"])[:MAX_TEXT]})
    return {"source": "advisor", "reasoning": reasoning, "summary": summary[:MAX_TEXT],
            "recommendations": [r[:MAX_TEXT] for r in recs[:10]]}
