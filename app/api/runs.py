"""Job control routes: cancel a dataset's run, run it again, and its run history."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..auth import load_visible_dataset
from ..control import cancel_dataset, describe_runs, reprocess_dataset, served_run
from ..services import describe
from . import schemas as s
from .datasets import accepted
from .openapi import NOT_FOUND, UPLOAD_ERRORS, documented

bp = Blueprint("runs", __name__)
OWNER_ONLY = "forbidden: not the dataset's owner (token mode), or a cross-site request"


@bp.post("/dataset/<dataset:dataset_id>/cancel")
@documented("datasets", {200: s.Cancelled}, {403: OWNER_ONLY, 404: NOT_FOUND,
                                             409: "not_cancellable: the run already completed, failed or was cancelled"},
            query=s.Who)
def cancel(dataset_id: str):
    """Cancel the dataset's run: a queued job leaves its queue (its quota given back), a running one is stopped.

    The status becomes `cancelled` at once; the worker stops the job within seconds and removes what the run
    wrote. Outputs of an earlier completed run stay served."""
    dataset = load_visible_dataset(dataset_id)
    refunded = cancel_dataset(dataset)
    return jsonify({**describe(dataset), "quota_refunded": refunded})


@bp.post("/dataset/<dataset:dataset_id>/reprocess")
@documented("datasets", {202: s.Reprocessing}, {
    **UPLOAD_ERRORS, 403: OWNER_ONLY, 404: NOT_FOUND,
    409: "busy: the dataset is queued or processing (cancel it first)",
    410: "purged: the original file was removed by the retention setting",
    422: "unknown_target, unknown_column: not a column of the stored file"},
    form=s.ReprocessForm, json=s.ReprocessOptions)
def reprocess(dataset_id: str):
    """Run the pipeline again on the stored raw file, with another mode, target or options.

    Fields not given keep the previous run's. Quotas apply as at upload. The outputs of the last completed
    run stay served until the new run completes; `GET /dataset/{id}/runs` lists every run."""
    dataset = load_visible_dataset(dataset_id)
    return accepted(dataset, reprocess_dataset(dataset))


@bp.get("/dataset/<dataset:dataset_id>/runs")
@documented("datasets", {200: s.Runs}, {404: NOT_FOUND}, query=s.Who)
def runs(dataset_id: str):
    """Every run of the dataset (upload, reprocess) with its attempts: worker, start, end, outcome, error."""
    dataset = load_visible_dataset(dataset_id)
    return jsonify({"dataset_id": dataset.id, "run": dataset.run, "served_run": served_run(dataset),
                    "runs": describe_runs(dataset)})
