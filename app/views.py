"""A dataset's links (paths on this API): given out by the routes and, in webhook events, by the workers."""
from __future__ import annotations

from flask import url_for

from jobs.pipeline.script import EXPORTABLE

from .models import LOG_STEPS, Dataset, Mode
from .options import effective


def links(dataset: Dataset) -> dict:
    kw = {"dataset_id": dataset.id}
    features = {"features": url_for("datasets.features", **kw),
                "features_csv": url_for("datasets.features_table", fmt="csv", **kw)}
    return {
        "status": url_for("datasets.status", **kw),
        "raw": url_for("datasets.raw", **kw),
        "cleaned": url_for("datasets.cleaned", **kw),
        "cleaned_parquet": url_for("datasets.cleaned", format="parquet", **kw),
        "imputed": url_for("datasets.imputed", **kw),
        "runs": url_for("runs.runs", **kw),
        "cancel": url_for("runs.cancel", **kw),
        "reprocess": url_for("runs.reprocess", **kw),
        "logs": {step: url_for("datasets.logs", step=step, **kw) for step in LOG_STEPS},
        "plan": url_for("plans.plan", **kw),
        **({"plan_script": url_for("plans.plan_py", **kw)} if dataset.file_format in EXPORTABLE else {}),
        "diff": url_for("changes.diff", **kw),
        **({"validation": url_for("plans.validation", **kw)} if (dataset.options or {}).get("plan") else {}),
        **(features if effective(dataset.options)["features"] else {}),  # features=false: no feature table
        **({"report": url_for("datasets.report", **kw)} if dataset.mode == Mode.DEEP else {}),
    }
