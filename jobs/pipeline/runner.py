"""run_pipeline: types → duplicates → eda → missing values → outliers → features (→ report), with progress."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from .clean import drop_duplicates, drop_sparse_columns, drop_unlabelled
from .coerce import repair_types, role_notes
from .eda import run_eda
from .features import engineer_features
from .impute import apply_decisions
from .outliers import METHODS, STRATEGIES, handle_outliers
from .plan import Advise, plan_missing
from .profile import column_role
from .report import merge_advisor_report, rule_based_report

MODES = ("fast", "smart", "deep")
SCALINGS = ("standard", "minmax", "none")
Progress = Callable[[str, int, str], None]


OUTLIER_CHOICES = ("off", "flag", "clip", "null")  # what a user picks at upload; flag changes no value
ROLE_CHOICES = ("id", "code", "numeric", "coordinate", "boolean", "datetime", "time", "categorical", "text")


@dataclass(frozen=True)
class PipelineOptions:
    """Per-upload choices. `roles` overrides detected column roles; `na_values` adds missing tokens."""

    mode: str = "fast"
    target: str | None = None
    drop_threshold: float = 0.7
    parse_threshold: float = 0.95
    missing_indicators: bool = False
    outliers: str = "flag"
    outlier_method: str = "iqr"
    outlier_flag_columns: bool = False
    features: bool = True
    scaling: str = "standard"
    roles: dict[str, str] = field(default_factory=dict)
    na_values: tuple[str, ...] = ()

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'fast', 'smart' or 'deep'; got {self.mode!r}")
        for name in ("drop_threshold", "parse_threshold"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} must be in (0, 1]; got {value!r}")
        for name, allowed in (("outliers", OUTLIER_CHOICES), ("outlier_method", METHODS),
                              ("scaling", SCALINGS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        bad = {c: r for c, r in self.roles.items() if r not in ROLE_CHOICES}
        if bad:
            raise ValueError(f"roles must be one of {', '.join(ROLE_CHOICES)}; got {bad!r}")


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


def run_pipeline(frame: pd.DataFrame, options: PipelineOptions | None = None, progress: Progress | None = None,
                 advise: Advise | None = None) -> PipelineResult:
    """Clean a loaded frame. `advise` (smart/deep) is the LLM advisor; its answers are validated here."""
    options = options or PipelineOptions()
    report = progress or _no_progress
    keep = {options.target} if options.target else set()
    rows_in, cols_in = frame.shape

    report("cleaning", 15, f"Repairing types in {cols_in} columns")
    out, type_logs = repair_types(frame, parse_threshold=options.parse_threshold)
    report("cleaning", 30, f"Removing duplicate rows among {rows_in:,}")
    out, dup_logs = drop_duplicates(out)
    out, drop_logs = drop_sparse_columns(out, options.drop_threshold, keep)
    out, label_logs = drop_unlabelled(out, options.target)
    roles = {str(c): column_role(out[c], str(c)) for c in out.columns}
    type_logs += role_notes(out, roles)
    asking = " (asking the advisor)" if options.mode != "fast" else ""
    # EDA looks at the data as observed: after type repair, before imputation invents values.
    report("eda", 35, f"Summarising {out.shape[1]} columns and drawing plots")
    statistics, figures, eda_logs = run_eda(out, roles)
    report("cleaning", 50, f"Planning missing values for {int(out.isna().any().sum())} columns{asking}")
    before_fill = out
    plans, advisor = plan_missing(out, roles, options.mode, options.target, advise)
    out, fill_logs = apply_decisions(out, plans, indicators=options.missing_indicators)

    report("outliers", 65, f"Checking {sum(r == 'numeric' for r in roles.values())} numeric columns for outliers")
    # The output feature is what a model learns: its values are not clipped or guessed.
    numeric = [c for c, r in roles.items() if r == "numeric" and c in out.columns and c != options.target]
    out, outlier_logs = handle_outliers(out, method=options.outlier_method, strategy=options.outlier_strategy,
                                        columns=numeric)
    report("features", 78, "Engineering model-ready features")
    features, feature_logs, descriptions = engineer_features(
        out, target=options.target if options.target in out.columns else None,
        roles={c: r for c, r in roles.items() if c in out.columns}, scaling=options.scaling)

    summary = {
        "rows_in": rows_in, "columns_in": cols_in, "rows_out": len(out), "columns_out": out.shape[1],
        "missing_in": int(frame.isna().sum().sum()), "missing_out": int(out.isna().sum().sum()),
        "columns_converted": sum(e["action"].startswith("convert_") for e in type_logs),
        "duplicates_removed": sum(e["count"] for e in dup_logs),
        "columns_dropped": [e["column"] for e in drop_logs + fill_logs if e["action"] == "drop_column"],
        "roles": roles, "advisor": {k: v for k, v in advisor.items() if k != "report"},
        "features": features.shape[1],
    }
    result_report = None
    if options.mode == "deep":
        base = rule_based_report(before_fill, plans, advisor["asked"], summary, outlier_logs)
        result_report = merge_advisor_report(base, advisor["report"]) if advisor["used"] else base
    return PipelineResult(frame=out, features=features, feature_descriptions=descriptions,
                          logs={"cleaning": type_logs + dup_logs + label_logs + drop_logs + eda_logs + fill_logs,
                                "outliers": outlier_logs, "features": feature_logs},
                          summary=summary, report=result_report, statistics=statistics, figures=figures)
