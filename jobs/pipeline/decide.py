"""Imputation decisions: the actions allowed per column role, and validating an untrusted (advisor's) decision."""
from __future__ import annotations

import math

import pandas as pd

from .export import formula_like

ALLOWED = {  # leave_missing everywhere: a gap nothing predicts is reported, not filled
    "numeric": ("mean", "median", "regression", "interpolate", "dependency", "constant", "leave_missing",
                "drop_column"),
    "coordinate": ("regression", "interpolate", "dependency", "leave_missing", "drop_column"),
    "boolean": ("mode", "group_mode", "dependency", "constant", "leave_missing", "drop_column"),
    "categorical": ("mode", "group_mode", "dependency", "constant", "leave_missing", "drop_column"),
    "text": ("constant", "leave_missing", "drop_column"),  # free text is never guessed
    "datetime": ("median", "interpolate", "dependency", "leave_missing", "drop_column"),
    # A code or a time of day is never averaged, but an entity's other rows may name it (a hospital's ZIP).
    "time": ("dependency", "leave_missing", "drop_column"),
    "id": ("leave_missing", "drop_column"),
    "code": ("dependency", "leave_missing", "drop_column"),
    "constant": ("mode", "constant", "leave_missing", "drop_column"),
}
MAX_CONSTANT = 1e15  # a numeric fill this large is no real value (and float64 stops holding every integer)


class DecisionError(ValueError):
    """An imputation decision that is not valid for its column."""


def decision(action: str, reasoning: str, source: str = "heuristic", **params) -> dict:
    return {"action": action, "params": params, "reasoning": reasoning, "source": source, "confidence": None}


def validate_decision(raw: object, role: str, series: pd.Series, columns: list[str], source: str = "advisor",
                      target: str | None = None, series_by: str | None = None,
                      determinants: list[str] | None = None) -> dict:
    """Check an untrusted decision (e.g. from the LLM) against the column; raise DecisionError."""
    if not isinstance(raw, dict):
        raise DecisionError("decision is not an object")
    action = raw.get("action")
    if action not in ALLOWED[role]:
        raise DecisionError(f"action {action!r} is not allowed for a {role} column")
    if action == "drop_column" and series.name == target:
        raise DecisionError("the output feature (target) cannot be dropped")
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise DecisionError("params is not an object")
    clean: dict = {}
    if action == "constant":
        clean["value"] = _constant(params.get("value"), series)
    if action == "group_mode":
        if params.get("by") not in columns or params.get("by") in (series.name, target):  # target: leakage
            raise DecisionError("group_mode needs 'by', another column of the table than the output feature")
        clean["by"] = params["by"]
    if action == "dependency":
        if params.get("by") not in (determinants or []):
            raise DecisionError("dependency needs 'by', a column found to determine this one "
                                f"({', '.join(determinants or []) or 'none was found'})")
        clean["by"] = params["by"]
    if action == "interpolate":
        if series_by is None:
            raise DecisionError("interpolate needs rows of one entity at regular time steps; this table is not")
        clean["by"] = series_by
    if action == "regression":
        chosen = params.get("predictors")
        if not isinstance(chosen, list) or not chosen or not all(isinstance(c, str) and c in columns for c in chosen) \
                or series.name in chosen:
            raise DecisionError("regression needs predictors that are other columns of the table")
        if target is not None and target in chosen:
            raise DecisionError("regression on the output feature (target) would leak it into the inputs")
        clean["predictors"] = list(dict.fromkeys(chosen))[:5]
    confidence = raw.get("confidence")
    reasoning = str(raw.get("reasoning") or "")[:1000]
    result = decision(action, reasoning, source=source, **clean)
    result["confidence"] = float(confidence) if isinstance(confidence, (int, float)) and 0 <= confidence <= 1 \
        else None
    return result


def _constant(value: object, series: pd.Series):
    """A constant fill, checked against the column's storage type, not only its role: a numeric ID column
    takes numbers, a text column takes short text."""
    if pd.api.types.is_bool_dtype(series):
        if not isinstance(value, bool):
            raise DecisionError("a boolean constant must be true or false")
    elif pd.api.types.is_numeric_dtype(series):
        _check_number(value, series)
    elif pd.api.types.is_datetime64_any_dtype(series):
        raise DecisionError("date columns take no constant")
    elif not isinstance(value, str) or len(value) > 100:
        raise DecisionError("a text constant must be a string of at most 100 characters")
    elif formula_like(value):
        raise DecisionError("a text constant may not start like a spreadsheet formula (=, +, -, @, tab, CR)")
    return value


def _check_number(value: object, series: pd.Series) -> None:
    """A numeric constant: finite, below MAX_CONSTANT and within ten times the column's largest magnitude."""
    try:
        number = abs(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer of hundreds of digits
        number = math.inf
    largest = float(series.abs().max()) if series.notna().any() else 0.0
    if not number < min(MAX_CONSTANT, 10 * max(largest, 1.0)):
        raise DecisionError(f"a numeric constant must be a finite number within ten times the column's largest "
                            f"magnitude ({largest:.6g}) and below {MAX_CONSTANT:.0e}")
