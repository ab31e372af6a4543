"""run_pipeline: types → duplicates → eda → missing values → outliers → features (→ report), with progress."""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

from .background import in_background
from .cleaning_plan import (PlanViolation, check_version, pinned_columns, pinned_fences, planned_roles,
                            replayed_gaps, users_roles)
from .clean import drop_duplicates, drop_unlabelled, sparse_columns
from .coerce import detect_roles, repair_types
from .depend import repair_dependencies
from .diff import Trail, cell_changes
from .eda import run_eda
from .expectations import check, learn
from .feature_replay import replay_features
from .features import engineer_features
from .gross import repair_gross_errors
from .impute import apply_decisions, imputed_cells
from .names import Mode, Stage
from .options import PipelineOptions
from .outliers import domain_bounds, outliers_and_fences
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
    expectations: dict = field(default_factory=dict)  # what the next batch should look like (expectations.py)
    # With a plan applied: what the batch broke of its expectations, and the decisions that could not apply.
    validation: dict | None = None
    changes: pa.Table | None = None  # every changed or filled cell (diff.py), the first diff.MAX_CELLS
    repairs: dict = field(default_factory=dict)  # the cells judged one by one (diff.Trail.judged), for the script
    dependencies: list[dict] = field(default_factory=list)  # the rules the dependency step used (a plan's, or found)


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
                 advise: Advise | None = None, parallel: bool = False) -> PipelineResult:
    """Clean a loaded frame. `advise` (smart/deep) is the LLM advisor; its answers are validated here.

    `parallel`: forked children repair and judge every other column of a large frame, and EDA (statistics
    and plots) runs in a forked child while the cleaning goes on: it only reads the frame, and no later step
    needs what it finds.
    """
    # Two processes on two cores: BLAS threads of their own would spin against each other (the missing-value
    # step up to 2.5 times slower, measured); one thread each.
    with threadpool_limits(limits=1, user_api="blas") if parallel else nullcontext():
        return _run(frame, options or PipelineOptions(), progress or _no_progress, advise, parallel)


def _run(frame: pd.DataFrame, options: PipelineOptions, report: Progress, advise: Advise | None,
         parallel: bool) -> PipelineResult:
    keep = {options.target} if options.target else set()
    frame = frame.reset_index(drop=True)  # rows are followed by position (diff.Trail), whatever the caller's labels
    rows_in, cols_in = frame.shape
    plan = options.plan
    if plan is not None:
        check_version(plan)
        advise = None  # a plan replays its decisions: nobody is asked again
    # The type repair sees the roles a user set (now or for the plan's batch), as the plan's batch did; the
    # plan's detected roles replace detection afterwards.
    chosen = {**users_roles(plan, frame.columns), **options.roles}

    report(Stage.CLEANING, 15, f"Repairing types in {cols_in} columns")
    out, type_logs = repair_types(frame, parse_threshold=options.parse_threshold, roles=chosen, parallel=parallel,
                                  pinned=pinned_columns(plan) if plan else None)
    report(Stage.CLEANING, 30, f"Removing duplicate rows among {rows_in:,}")
    trail = Trail.start(frame)
    out, dup_logs = drop_duplicates(out)
    out = trail.keep(out)
    sparse, drop_logs = sparse_columns(out, options.drop_threshold, keep)
    out, label_logs = drop_unlabelled(out, options.target)
    out = trail.keep(out)
    roles, role_logs = detect_roles(out, {c: r for c, r in chosen.items() if c in out.columns}, parallel,
                                    planned_roles(plan, out))
    type_logs += role_logs
    asking = " (asking the advisor)" if options.mode != Mode.FAST else ""
    # Stand-ins for missing values (-999) are no data: set missing before anything summarises the column.
    # The output feature is what a model learns: no step here changes or guesses its values.
    repairable = {c: r for c, r in roles.items() if c != options.target}
    unmasked = out
    out, repair_logs = find_disguised_missing(out, repairable, (plan or {}).get("stand_ins"))
    trail.record("disguised_missing", unmasked, out, repair_logs)
    # EDA looks at the data as observed: after type repair, before imputation invents values.
    report(Stage.EDA, 35, f"Summarising {out.shape[1]} columns and drawing plots")
    charted = {c: EDA_ROLES.get(r, r) for c, r in roles.items()}
    eda = in_background(lambda: run_eda(out, charted, parallel=parallel), parallel=parallel)
    report(Stage.CLEANING, 45, "Checking entity consistency (values determined by other columns)")
    before_fill = out
    out, dependency_logs, rules = repair_dependencies(out, repairable, (plan or {}).get("dependencies"))
    after_dependencies = out
    trail.record("dependencies", before_fill, out, dependency_logs)
    measured = [c for c, r in repairable.items() if r in QUANTITIES and c in out.columns]
    out, gross_logs = repair_gross_errors(out, measured, _bounds(out, roles, measured))
    trail.record("gross_errors", after_dependencies, out, gross_logs)
    repair_logs += dependency_logs + gross_logs
    report(Stage.CLEANING, 50, f"Planning missing values for {int(out.isna().any().sum())} columns{asking}")
    before_impute = out
    usable = [r for r in rules if r["dependent"] not in sparse and r["determinant"] not in sparse]
    plans, advisor, skipped = _fill_plans(out.drop(columns=sparse), roles, options, advise, usable,
                                          type_logs + repair_logs, out.columns)
    out, fill_logs = apply_decisions(out, plans, indicators=options.missing_indicators)
    trail.record("missing_values", before_impute, out, fill_logs)
    left_out = set(sparse) | {e["column"] for e in fill_logs if e["action"] == "drop_column"}
    imputed = pd.concat([imputed_cells(before_fill, after_dependencies, dependency_logs),
                         imputed_cells(before_impute, out, fill_logs)], ignore_index=True)

    out, outlier_logs = _outliers(out, roles, options, trail, report) if options.outliers != "off" else (out, [])
    features, feature_logs, descriptions = None, [], []
    if options.features:
        report(Stage.FEATURES, 78, "Engineering model-ready features")
        features, feature_logs, descriptions = _features(out.drop(columns=[c for c in out.columns if c in left_out]),
                                                         roles, options)

    if parallel:
        report(Stage.EDA, 88, "Finishing the plots")
    statistics, figures, eda_logs = eda()
    validation = None if plan is None else _validation(frame, out, plan, skipped, options.strict)
    units = _units(type_logs, statistics)
    formats = _date_formats(type_logs, out)
    changes, changed = cell_changes(frame, out, trail, type_logs, formats)
    summary = {
        "rows_in": rows_in, "columns_in": cols_in, "rows_out": len(out), "columns_out": out.shape[1],
        "missing_in": int(frame.isna().sum().sum()), "missing_out": int(out.isna().sum().sum()),
        "cells_imputed": len(imputed), "cells_changed": changed, "changes_listed": len(changes),
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
    result_report = _deep_report(before_fill, plans, advisor, summary, logs) if options.mode == Mode.DEEP else None
    return PipelineResult(frame=out, features=features, feature_descriptions=descriptions, logs=logs,
                          summary=summary, report=result_report, statistics=statistics, figures=figures,
                          imputed=imputed, formats=formats, changes=changes,
                          repairs={"cells": trail.judged, "complete": trail.complete}, dependencies=rules,
                          expectations=learn(frame, out, roles, usable, statistics), validation=validation)


def _outliers(out: pd.DataFrame, roles: dict[str, str], options: PipelineOptions, trail: Trail, report: Progress
              ) -> tuple[pd.DataFrame, list[dict]]:
    # The output feature is what a model learns: its values are not clipped or guessed.
    quantities = [c for c, r in roles.items() if r in QUANTITIES and c in out.columns and c != options.target]
    report(Stage.OUTLIERS, 65, f"Checking {len(quantities)} numeric columns for outliers")
    handled, logs = outliers_and_fences(out, method=options.outlier_method, strategy=options.outliers,
                                        columns=quantities, flag_columns=options.outlier_columns,
                                        bounds=_bounds(out, roles, quantities),
                                        fences=pinned_fences(options.plan) if options.plan else None)
    trail.record("outliers", out, handled, logs)
    return handled, logs


def _units(type_logs: list[dict], statistics: dict) -> dict[str, str]:
    """The unit each converted column was read in; a number read from '12.0 oz' keeps it beside its statistics."""
    units = {e["column"]: e["params"]["unit"] for e in type_logs if e["action"] == "convert_unit"}
    for col, unit in units.items():
        if col in statistics.get("columns", {}):
            statistics["columns"][col]["unit"] = unit
    return units


def _deep_report(before_fill: pd.DataFrame, plans: dict, advisor: dict, summary: dict, logs: dict) -> dict:
    base = rule_based_report(before_fill, plans, advisor["asked"], summary, logs)
    return merge_advisor_report(base, advisor["report"]) if advisor["used"] else base


def _fill_plans(frame: pd.DataFrame, roles: dict[str, str], options: PipelineOptions, advise: Advise | None,
                rules: list[dict], repairs: list[dict], columns) -> tuple[dict, dict, list[dict]]:
    """How each gap is filled: the plan's decisions (and those it could not apply), else heuristics and advisor."""
    plan = options.plan
    if plan is not None:
        plans, skipped = replayed_gaps(plan, frame, roles, options.target, rules, columns)
        return plans, {"asked": [], "used": False, "error": None, "report": None, "model": None}, skipped
    plans, advisor = plan_missing(frame, roles, options.mode, options.target, advise, rules=rules, repairs=repairs)
    return plans, advisor, []


def _features(model: pd.DataFrame, roles: dict[str, str], options: PipelineOptions):
    aim = options.target if options.target in model.columns else None
    if options.plan is not None and options.plan.get("features"):  # the plan's columns, encoders and scalers
        return replay_features(model, options.plan["features"], aim)
    return engineer_features(model, target=aim, roles={c: r for c, r in roles.items() if c in model.columns},
                             scaling=options.scaling)


def _validation(frame: pd.DataFrame, out: pd.DataFrame, plan: dict, skipped: list[dict], strict: bool) -> dict:
    """What the batch broke of the plan's expectations; strict: a failure instead."""
    broken = check(frame, out, plan.get("expectations", {}))
    validation = {"passed": not broken and not skipped, "violations": broken, "skipped": skipped}
    if strict and (broken or skipped):
        raise PlanViolation(_broken(validation))
    return validation


def _broken(validation: dict) -> str:
    """A strict replay's failure, in a sentence naming the first rules broken."""
    found = [f"{v['rule']} on {v['column']!r}" for v in validation["violations"]] + \
            [f"skipped decision on {s['column']!r}" for s in validation["skipped"]]
    return (f"The file breaks the plan in {len(found)} place{'s' if len(found) != 1 else ''} (strict): "
            f"{'; '.join(found[:5])}{'...' if len(found) > 5 else ''}.")


def warm_up(rows: int = 200) -> None:
    """Run the pipeline once on a small made-up frame, so a worker's parent has compiled the regexes and loaded
    the fonts and parsers that every job it forks would otherwise load again (small jobs: 20% more a second)."""
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 400, rows), unit="D")
    frame = pd.DataFrame({
        "x": rng.normal(size=rows), "n": rng.integers(0, 9, rows).astype(float),
        "price": [f"${v:,.2f}" for v in rng.lognormal(3, 1, rows)],
        "day": np.where(rng.random(rows) < 0.5, days.strftime("%Y-%m-%d"), days.strftime("%d.%m.%Y")),
        "city": rng.choice(["Paris", "paris ", "Rome"], rows), "ok": rng.choice(["yes", "no"], rows)})
    run_pipeline(frame)
