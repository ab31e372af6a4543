"""run_pipeline: types → duplicates → eda → missing values → outliers → features (→ report), with progress."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from .clean import drop_duplicates, drop_unlabelled, sparse_columns
from .coerce import detect_roles, repair_types
from .depend import repair_dependencies
from .eda import run_eda
from .features import engineer_features
from .gross import repair_gross_errors
from .impute import apply_decisions, imputed_cells
from .options import PipelineOptions
from .outliers import domain_bounds, handle_outliers
from .plan import Advise, plan_missing
from .profile import QUANTITIES, name_words
from .report import merge_advisor_report, rule_based_report
from .sentinels import find_disguised_missing

Progress = Callable[[str, int, str], None]
CHANGING = ("outliers_clip", "outliers_null", "outliers_median", "outliers_remove")


@dataclass
class PipelineResult:
    frame: pd.DataFrame
    features: pd.DataFrame | None = None
    feature_descriptions: list[dict] = field(default_factory=list)
    logs: dict[str, list[dict]] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    report: dict | None = None
    statistics: dict = field(default_factory=dict)
    figures: list[dict] = field(default_factory=list)
    # Imputed cells (row position in `frame`, column, value, action): the download can be told from the raw.
    imputed: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "column", "value", "action"]))
    formats: dict[str, str] = field(default_factory=dict)  # strftime pattern per date/time column for CSV output


def _no_progress(stage: str, percent: int, info: str) -> None:
    return None


EDA_ROLES = {"coordinate": "numeric", "code": "categorical", "time": "categorical"}  # how each role is charted


def _date_formats(logs: list[dict], frame: pd.DataFrame) -> dict[str, str]:
    return {e["column"]: e["params"]["format"] for e in logs
            if e["action"] == "convert_datetime" and e["params"].get("format") and e["column"] in frame}


def _bounds(frame: pd.DataFrame, roles: dict[str, str], columns: list[str]) -> dict[str, tuple[float, float]]:
    found = {c: domain_bounds(frame[c], name_words(c), roles[c]) for c in columns}
    return {c: b for c, b in found.items() if b is not None}


def run_pipeline(frame: pd.DataFrame, options: PipelineOptions | None = None, progress: Progress | None = None,
                 advise: Advise | None = None) -> PipelineResult:
    """Clean a loaded frame. `advise` (smart/deep) is the LLM advisor; its answers are validated here."""
    options = options or PipelineOptions()
    report = progress or _no_progress
    keep = {options.target} if options.target else set()
    rows_in, cols_in = frame.shape

    report("cleaning", 15, f"Repairing types in {cols_in} columns")
    out, type_logs = repair_types(frame, parse_threshold=options.parse_threshold, roles=options.roles)
    report("cleaning", 30, f"Removing duplicate rows among {rows_in:,}")
    out, dup_logs = drop_duplicates(out)
    sparse, drop_logs = sparse_columns(out, options.drop_threshold, keep)
    out, label_logs = drop_unlabelled(out, options.target)
    roles, role_logs = detect_roles(out, {c: r for c, r in options.roles.items() if c in out.columns})
    type_logs += role_logs
    asking = " (asking the advisor)" if options.mode != "fast" else ""
    # Stand-ins for missing values (-999) are no data: set missing before anything summarises the column.
    # The output feature is what a model learns: no step here changes or guesses its values.
    repairable = {c: r for c, r in roles.items() if c != options.target}
    out, repair_logs = find_disguised_missing(out, repairable)
    # EDA looks at the data as observed: after type repair, before imputation invents values.
    report("eda", 35, f"Summarising {out.shape[1]} columns and drawing plots")
    statistics, figures, eda_logs = run_eda(out, {c: EDA_ROLES.get(r, r) for c, r in roles.items()})
    units = {e["column"]: e["params"]["unit"] for e in type_logs if e["action"] == "convert_unit"}
    for col, unit in units.items():  # a number read from '12.0 oz' keeps its unit beside its statistics
        if col in statistics.get("columns", {}):
            statistics["columns"][col]["unit"] = unit
    report("cleaning", 45, "Checking entity consistency (values determined by other columns)")
    before_fill = out
    out, dependency_logs, rules = repair_dependencies(out, repairable)
    after_dependencies = out
    measured = [c for c, r in repairable.items() if r in QUANTITIES and c in out.columns]
    out, gross_logs = repair_gross_errors(out, measured, _bounds(out, roles, measured))
    repair_logs += dependency_logs + gross_logs
    report("cleaning", 50, f"Planning missing values for {int(out.isna().any().sum())} columns{asking}")
    before_impute = out
    plans, advisor = plan_missing(out.drop(columns=sparse), roles, options.mode, options.target, advise,
                                  rules=[r for r in rules if r["dependent"] not in sparse and r["determinant"] not in sparse],
                                  repairs=type_logs + repair_logs)
    out, fill_logs = apply_decisions(out, plans, indicators=options.missing_indicators)
    left_out = set(sparse) | {e["column"] for e in fill_logs if e["action"] == "drop_column"}
    imputed = pd.concat([imputed_cells(before_fill, after_dependencies, dependency_logs),
                         imputed_cells(before_impute, out, fill_logs)], ignore_index=True)

    # The output feature is what a model learns: its values are not clipped or guessed.
    quantities = [c for c, r in roles.items() if r in QUANTITIES and c in out.columns and c != options.target]
    outlier_logs: list[dict] = []
    if options.outliers != "off":
        report("outliers", 65, f"Checking {len(quantities)} numeric columns for outliers")
        out, outlier_logs = handle_outliers(out, method=options.outlier_method, strategy=options.outliers,
                                            columns=quantities, flag_columns=options.outlier_columns,
                                            bounds=_bounds(out, roles, quantities))
    features, feature_logs, descriptions = None, [], []
    if options.features:
        report("features", 78, "Engineering model-ready features")
        model = out.drop(columns=[c for c in out.columns if c in left_out])
        features, feature_logs, descriptions = engineer_features(
            model, target=options.target if options.target in model.columns else None,
            roles={c: r for c, r in roles.items() if c in model.columns}, scaling=options.scaling)

    summary = {
        "rows_in": rows_in, "columns_in": cols_in, "rows_out": len(out), "columns_out": out.shape[1],
        "missing_in": int(frame.isna().sum().sum()), "missing_out": int(out.isna().sum().sum()),
        "cells_imputed": len(imputed),
        "columns_converted": sum(e["action"].startswith("convert_") for e in type_logs),
        "duplicates_removed": sum(e["count"] for e in dup_logs),
        "columns_dropped": sorted(left_out, key=list(out.columns).index),  # from the features only
        "outliers_flagged": sum(e["params"].get("flagged", 0) for e in outlier_logs),
        "outliers_changed": sum(e["count"] for e in outlier_logs if e["action"] in CHANGING),
        "roles": roles, "units": units, "advisor": {k: v for k, v in advisor.items() if k != "report"},
        "features": 0 if features is None else features.shape[1],
    }
    logs = {"cleaning": type_logs + dup_logs + label_logs + drop_logs + eda_logs + repair_logs + fill_logs,
            "outliers": outlier_logs, "features": feature_logs}
    result_report = None
    if options.mode == "deep":
        base = rule_based_report(before_fill, plans, advisor["asked"], summary, logs)
        result_report = merge_advisor_report(base, advisor["report"]) if advisor["used"] else base
    return PipelineResult(frame=out, features=features, feature_descriptions=descriptions, logs=logs,
                          summary=summary, report=result_report, statistics=statistics, figures=figures,
                          imputed=imputed, formats=_date_formats(type_logs, out))
