"""Dataset endpoints: upload, status, lists, downloads, step logs."""
from __future__ import annotations

import os
import tempfile

from flask import Blueprint, Response, current_app, jsonify, request, send_file, url_for

from jobs.pipeline.export import neutralise_csv, safe_path

from ..auth import check_name, load_visible_dataset, principal, requesting_user
from ..errors import APIError
from ..models import LOG_STEPS, CleaningReport, Dataset, Mode
from ..options import effective, shown_options
from . import schemas as s
from .openapi import NOT_FOUND, NOT_READY, REDIRECT, UPLOAD_ERRORS, documented
from ..services import delete_dataset, describe, filtered, iso, log_entries, page
from ..views import links
from ..uploads import accept_upload

bp = Blueprint("datasets", __name__)
MAX_PAGE = 200


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise APIError(400, "invalid_parameter", f"{name} must be an integer.", {"field": name}) from None
    if not low <= value <= high:
        raise APIError(400, "invalid_parameter", f"{name} must be between {low} and {high}.", {"field": name})
    return value


@bp.post("/dataset/upload")
@documented("datasets", {202: s.UploadAccepted}, UPLOAD_ERRORS, form=s.UploadForm, json=s.UploadJSON)
def upload():
    """Upload a dataset (a file, or a URL for a worker to download) and queue its cleaning.

    202 with the dataset's id and links; poll `links.status`. Options may come as form fields or, for a URL,
    in a JSON body. In token mode the token names the owner."""
    dataset, enqueued = accept_upload()
    body = {"dataset_id": dataset.id, "rows": dataset.rows, "columns": dataset.columns,
            "status": dataset.status, "mode": dataset.mode, "job_id": dataset.job_id,
            "database_name": dataset.database_name, "target": dataset.target, "options": shown_options(dataset.options),
            "enqueued": enqueued, "links": links(dataset)}
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = body["links"]["status"]
    return response


def accepted(dataset: Dataset, enqueued: bool) -> Response:
    """202 for work queued on a dataset (a reprocess, a completed direct upload): its state, Location its status."""
    body = {**describe(dataset), "enqueued": enqueued}
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = body["links"]["status"]
    return response


@bp.get("/dataset/<dataset:dataset_id>/status")
@documented("datasets", {200: s.Dataset}, {404: NOT_FOUND}, query=s.Who)
def status(dataset_id: str):
    """A dataset's status, progress, stage, summary and links."""
    return jsonify(describe(load_visible_dataset(dataset_id)))


@bp.get("/datasets/status")
@documented("datasets", {200: s.DatasetStatuses}, {400: "invalid_parameter, missing_parameter (open mode: give "
            "user_id or collaboration_id)"}, query=s.StatusListing)
def statuses():
    """The status of the newest datasets, briefly."""
    query = filtered(requesting_user(), check_name(request.args.get("collaboration_id"), "collaboration_id"))
    rows = query.order_by(Dataset.created_at.desc()).limit(int_arg("limit", 100, 1, MAX_PAGE)).all()
    keys = ("dataset_id", "status", "mode", "database_name", "progress", "stage", "progress_info",
            "error", "attempts", "advisor", "updated_at")
    return jsonify({"datasets": [{k: d[k] for k in keys} for d in map(describe, rows)]})


@bp.get("/datasets")
@documented("datasets", {200: s.DatasetPage}, {400: "invalid_parameter, invalid_cursor, missing_parameter (open "
            "mode: give user_id or collaboration_id)"}, query=s.Listing)
def list_datasets():
    """Datasets, newest first, a page at a time (keyset cursor or offset)."""
    query = filtered(requesting_user(), check_name(request.args.get("collaboration_id"), "collaboration_id"),
                     request.args.get("status"))
    rows, next_cursor = page(query, int_arg("limit", 50, 1, MAX_PAGE), request.args.get("cursor"),
                             int_arg("offset", 0, 0, 10**9))
    return jsonify({"datasets": [describe(d) for d in rows], "next_cursor": next_cursor, "count": len(rows)})


def serve_file(key: str, mimetype: str, name: str | None = None) -> Response:
    """A stored file: 302 to its presigned URL when storage has one, else streamed (as an attachment when named)."""
    storage = current_app.extensions["storage"]
    url = storage.url(key, filename=name)
    if url:
        return Response(status=302, headers={"Location": url})
    return send_file(storage.open(key), mimetype=mimetype, as_attachment=name is not None, download_name=name)


def _csv_key(dataset: Dataset, key: str, kind: str) -> str:
    """The CSV a download serves: by default its copy with formula-like cells neutralised, raw with ?formulas=keep."""
    formulas = request.args.get("formulas", "escape").lower()
    if formulas not in ("escape", "keep"):
        raise APIError(400, "invalid_parameter", "formulas must be escape or keep.", {"field": "formulas"})
    if formulas == "keep":
        return key
    counts = (dataset.summary or {}).get("formulas_neutralised")
    if isinstance(counts, dict):  # written by the job: a copy exists where some cell needed one
        return safe_path(key) if counts.get(kind) else key
    return _late_safe_copy(key)


def _late_safe_copy(key: str) -> str:
    """The safe copy of a CSV stored before the job wrote copies, made once on first download (streamed)."""
    storage, safe = current_app.extensions["storage"], safe_path(key)
    if not storage.exists(safe):
        fd, tmp = tempfile.mkstemp(dir=storage.scratch_dir(), suffix=".csv")
        os.close(fd)
        try:
            with storage.local_path(key) as source:
                neutralise_csv(source, tmp)
            storage.put_file(safe, tmp)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return safe


def _download_table(dataset: Dataset, csv_key: str, kind: str, fmt: str):
    """A table saved as CSV and Parquet side by side, in the format asked for (Parquet: typed data, as stored)."""
    name = f"{dataset.database_name}_{kind}.{fmt}"
    if fmt == "csv":
        return serve_file(_csv_key(dataset, csv_key, kind), "text/csv", name)
    return serve_file(csv_key.rsplit(".", 1)[0] + ".parquet", "application/vnd.apache.parquet", name)


@bp.delete("/dataset/<dataset:dataset_id>")
@documented("datasets", {204: None}, {403: "forbidden: not the owner (open mode: give the owner's user_id)",
                                      404: NOT_FOUND, 409: "busy: the job is running; delete it once it has "
                                      "finished"}, query=s.Who)
def delete(dataset_id: str):
    """Delete a dataset: its rows, files and queued job."""
    dataset = load_visible_dataset(dataset_id)
    who = principal()
    owner = who.user_id if who is not None else requesting_user()  # open mode: the owner must say so
    if owner != dataset.user_id:
        raise APIError(403, "forbidden", "Only the dataset's owner may delete it"
                       + ("." if who is not None else "; give its user_id."))
    delete_dataset(dataset)
    return "", 204


@bp.get("/dataset/<dataset:dataset_id>/raw")
@documented("downloads", {200: (None, "The file as uploaded"), 302: REDIRECT},
            {404: NOT_FOUND + "; file_missing", 409: "not_ready: a URL upload not downloaded (yet)",
             410: "purged: removed by the retention setting (details.purged_at)"},
            files={"200": ["application/octet-stream"]}, query=s.Who)
def raw(dataset_id: str):
    """The original file, byte for byte."""
    dataset = load_visible_dataset(dataset_id)
    if dataset.raw_purged_at is not None:
        raise APIError(410, "purged", "The original file was removed by the retention setting; "
                       "the cleaned data is still available.", {"purged_at": iso(dataset.raw_purged_at)})
    if dataset.file_format == "url":  # the worker has not downloaded it (yet, or the download was refused)
        raise APIError(409, "not_ready", "The file at the dataset's URL has not been downloaded.",
                       {"status": dataset.status})
    return serve_file(dataset.raw_key, "application/octet-stream", dataset.filename)


@bp.get("/dataset/<dataset:dataset_id>/cleaned")
@documented("downloads", {200: (None, "The cleaned table"), 302: REDIRECT},
            {400: "invalid_parameter: format or formulas", 404: NOT_FOUND + "; file_missing", 409: NOT_READY},
            files={"200": ["text/csv", "application/vnd.apache.parquet"]}, query=s.TableDownload)
def cleaned(dataset_id: str):
    """The cleaned table as CSV (formula-like cells escaped unless formulas=keep) or Parquet."""
    dataset = load_visible_dataset(dataset_id)
    fmt = request.args.get("format", "csv").lower()
    if fmt not in ("csv", "parquet"):
        raise APIError(400, "invalid_parameter", "format must be csv or parquet.", {"field": "format"})
    completed(dataset, "cleaned file")
    return _download_table(dataset, dataset.cleaned_key, "cleaned", fmt)


def completed(dataset: Dataset, what: str) -> None:
    """409 unless a run completed: its outputs are not there yet (or never will be). While a later run is
    queued or processing, or after it failed or was cancelled, the last completed run's outputs are served."""
    if dataset.cleaned_key is None:
        raise APIError(409, "not_ready", f"The dataset is {dataset.status}; the {what} is not ready.",
                       {"status": dataset.status, "progress": dataset.progress})


@bp.get("/dataset/<dataset:dataset_id>/report")
@documented("datasets", {200: s.Report}, {404: NOT_FOUND + "; not_found for a fast or smart dataset",
                                          409: NOT_READY}, query=s.Who)
def report(dataset_id: str):
    """Deep mode: the cleaning report (what changed, what was flagged, what was left alone, and why)."""
    dataset = load_visible_dataset(dataset_id)
    if dataset.mode != Mode.DEEP:
        raise APIError(404, "not_found", "Reports are written for deep mode only.", {"mode": dataset.mode})
    completed(dataset, "report")
    found = CleaningReport.query.filter_by(dataset_id=dataset.id).one_or_none()
    if found is None:
        raise APIError(404, "not_found", "No report was recorded for this dataset.")
    return jsonify({"dataset_id": dataset.id, "mode": dataset.mode, "source": found.source,
                    "reasoning": found.reasoning, "summary": found.summary,
                    "recommendations": found.recommendations, "changed": found.changed,
                    "flagged": found.flagged, "left_alone": found.left_alone, "created_at": iso(found.created_at)})


def _features_on(dataset: Dataset) -> None:
    """404 when the upload switched the feature step off (features=false): there is no feature table."""
    if not effective(dataset.options)["features"]:
        raise APIError(404, "features_disabled", "Feature engineering was switched off for this upload "
                       "(features=false): there is no feature table. Upload again with features=true for one.",
                       {"option": "features", "value": False})


@bp.get("/dataset/<dataset:dataset_id>/imputed")
@documented("downloads", {200: (None, "CSV: row, column, value, action"), 302: REDIRECT},
            {400: "invalid_parameter: formulas", 404: NOT_FOUND + "; file_missing", 409: NOT_READY},
            files={"200": ["text/csv"]}, query=s.CsvDownload)
def imputed(dataset_id: str):
    """Every cell the pipeline filled in: row (0-based position in the cleaned table), column, value, action."""
    dataset = load_visible_dataset(dataset_id)
    completed(dataset, "list of imputed cells")
    return serve_file(_csv_key(dataset, dataset.imputed_key, "imputed"), "text/csv",
                      f"{dataset.database_name}_imputed.csv")


FEATURES_OFF = "features_disabled: the upload switched features off"


@bp.get("/dataset/<dataset:dataset_id>/features")
@documented("datasets", {200: s.Features}, {404: NOT_FOUND + "; " + FEATURES_OFF, 409: NOT_READY}, query=s.Who)
def features(dataset_id: str):
    """The engineered features: each input feature's source columns and transform, the output feature."""
    dataset = load_visible_dataset(dataset_id)
    _features_on(dataset)
    completed(dataset, "feature table")
    described = dataset.features or []
    output = next((d for d in described if d["kind"] == "output"), None)
    return jsonify({"dataset_id": dataset.id, "target": dataset.target, "count": len(described),
                    "input_features": [d for d in described if d["kind"] == "input"], "output_feature": output,
                    "links": {"csv": url_for("datasets.features_table", dataset_id=dataset.id, fmt="csv"),
                              "parquet": url_for("datasets.features_table", dataset_id=dataset.id,
                                                 fmt="parquet")}})


@bp.get("/dataset/<dataset:dataset_id>/features.<any(csv, parquet):fmt>")
@documented("downloads", {200: (None, "The feature table"), 302: REDIRECT},
            {400: "invalid_parameter: formulas", 404: NOT_FOUND + "; file_missing; " + FEATURES_OFF, 409: NOT_READY},
            files={"200": ["text/csv", "application/vnd.apache.parquet"]}, query=s.CsvDownload)
def features_table(dataset_id: str, fmt: str):
    """The feature table as CSV or Parquet."""
    dataset = load_visible_dataset(dataset_id)
    _features_on(dataset)
    completed(dataset, "feature table")
    return _download_table(dataset, dataset.features_key, "features", fmt)


@bp.get(f"/dataset/<dataset:dataset_id>/logs/<any({', '.join(LOG_STEPS)}):step>")
@documented("datasets", {200: s.StepLogs}, {404: NOT_FOUND}, query=s.Who)
def logs(dataset_id: str, step: str):
    """A step's log: every decision, with its column, action, count, parameters, source and before/after."""
    dataset = load_visible_dataset(dataset_id)
    return jsonify({"dataset_id": dataset.id, "step": step, "status": dataset.status,
                    "entries": log_entries(dataset, step)})
