"""process_dataset: the RQ job that loads, cleans and saves one dataset."""
from __future__ import annotations

import io
import logging
import os
import tempfile
import time
import traceback
import uuid
from contextlib import nullcontext
from typing import Callable

import pandas as pd
import pyarrow as pa
from flask import current_app, has_app_context
from rq import get_current_job

from app.extensions import db
from app.logs import bind, unbind
from app.models import CleaningReport, Dataset, Graph, Stage, Status, StepLog, utcnow
from jobs.pipeline.entries import bounded
from jobs.pipeline.export import csv_table, neutralised, safe_path, to_table, write_csv, write_parquet
from jobs.pipeline.load import FileInfo, load_step
from jobs.pipeline.options import PipelineOptions
from jobs.pipeline.runner import run_pipeline

from .advisor import advisor_from_config
from .fetch import awaiting_download, fetch_source
from .failures import HorseKilled, JobGaveUp, memory_error_in, user_message
from .limits import check_decoded, check_estimate, check_output
from .queues import MAX_ATTEMPTS, dataset_id_from_job, is_final, queue_for_mode
from .scaling.counters import record_duration, record_outcome
from .scaling.stats import record_completion

log = logging.getLogger(__name__)
PROGRESS_EVERY = 0.5  # seconds between progress writes, so progress never slows the job
REPORT_LISTS = ("changed", "flagged", "left_alone")  # the deep report's lists, kept in CleaningReport.details


def cleaned_keys(dataset_id: str) -> tuple[str, str]:
    return f"datasets/{dataset_id}/cleaned.csv", f"datasets/{dataset_id}/cleaned.parquet"


def _app_context():
    if has_app_context():
        return nullcontext()
    from .context import get_app  # a plain `rq worker` process builds its app on first use
    return get_app().app_context()


class ProgressWriter:
    """Writes stage, percent and a human sentence to the dataset row, at most twice a second."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.last = 0.0

    def __call__(self, stage: str, percent: int, info: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and stage == self.dataset.stage and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        self.dataset.stage, self.dataset.progress, self.dataset.progress_info = stage, percent, info
        db.session.commit()


def process_dataset(dataset_id: str) -> dict:
    """Run the pipeline for one dataset. Idempotent: a re-run replaces outputs and logs."""
    job = get_current_job()
    # Every line this job writes names the dataset, the job and the upload's request (from the job's meta).
    context = bind(dataset_id=dataset_id, job_id=job.id if job else None,
                   request_id=(job.meta or {}).get("request_id") if job else None)
    try:
        with _app_context():
            dataset = db.session.get(Dataset, dataset_id)
            if dataset is None:
                log.warning("dataset %s no longer exists; nothing to do", dataset_id)
                return {"dataset_id": dataset_id, "status": "missing"}
            bind(user=dataset.user_id)
            try:
                return _run(dataset)
            except Exception as exc:
                if memory_error_in(exc):
                    traceback.clear_frames(exc.__traceback__)  # let go of the big frames before recording
                _record_failure(dataset_id, exc)
                raise
    finally:
        unbind(context)


def _run(dataset: Dataset) -> dict:
    dataset.attempts += 1
    if dataset.attempts > MAX_ATTEMPTS:
        raise JobGaveUp(f"Gave up after {MAX_ATTEMPTS} attempts: the job kept crashing its worker.")
    dataset.status, dataset.error = Status.PROCESSING.value, None
    dataset.started_at, dataset.completed_at = utcnow(), None
    progress = ProgressWriter(dataset)
    if awaiting_download(dataset) and not fetch_source(dataset, progress):
        return {"dataset_id": dataset.id, "status": dataset.status}  # refused as an upload would be: not retried
    progress(Stage.LOADING.value, 5, f"Loading {dataset.filename} (attempt {dataset.attempts})", force=True)
    log.info("dataset %s processing (%s mode, attempt %d)", dataset.id, dataset.mode, dataset.attempts)

    storage = current_app.extensions["storage"]
    options = PipelineOptions.from_stored(dataset.mode, dataset.target, dataset.options)
    info = FileInfo(format=dataset.file_format, encoding=dataset.encoding, delimiter=dataset.delimiter)
    limit = current_app.config["MAX_DECODED_MB"]
    with storage.local_path(dataset.raw_key) as path:
        # Refused before a frame exists when the shape or a Parquet sample already says too large.
        check_estimate(path, info.format, dataset.rows, dataset.columns, limit)
        frame, load_logs = load_step(path, info, na_values=options.na_values)
    check_decoded(frame, limit)
    advise = advisor_from_config(current_app.config) if dataset.mode != "fast" else None
    result = run_pipeline(frame, options, progress, advise)

    features = result.features  # None when the upload switched the feature step off
    progress(Stage.SAVING.value, 90, f"Saving {len(result.frame):,} cleaned rows"
             + (f" and {features.shape[1]} features" if features is not None else ""), force=True)
    csv_key, parquet_key = cleaned_keys(dataset.id)
    cleaned = to_table(result.frame)
    headers = load_logs[0]["params"].get("headers")
    escaped = {"cleaned": _put_csv(storage, csv_key, csv_table(cleaned, result.formats, headers))}
    _put(storage, parquet_key, lambda tmp: write_parquet(cleaned, tmp))
    escaped["imputed"] = _put_csv(storage, dataset.imputed_key, csv_table(_imputed_table(result.imputed)))
    features_key = None
    if features is not None:
        features_key = f"datasets/{dataset.id}/features.csv"
        table = to_table(features)
        escaped["features"] = _put_csv(storage, features_key, csv_table(table))
        _put(storage, f"datasets/{dataset.id}/features.parquet", lambda tmp: write_parquet(table, tmp))
    _replace_records(dataset, load_logs, result)
    _save_graphs(storage, dataset, result.figures)
    dataset.cleaned_key, dataset.features_key = csv_key, features_key
    dataset.cleaned_rows, dataset.cleaned_columns = result.frame.shape
    summary = dict(result.summary, formulas_neutralised=escaped)  # per CSV; >0: a .safe.csv copy is served
    advisor = advisor_outcome(dataset.mode, summary.get("advisor"), advise is not None)
    if advisor is not None:
        summary["advisor"] = advisor
    dataset.summary, dataset.features = summary, result.feature_descriptions
    dataset.statistics = result.statistics
    dataset.status, dataset.stage, dataset.progress = Status.COMPLETED.value, None, 100
    dataset.progress_info = done_sentence(summary, len(result.imputed) if result.imputed is not None else 0)
    dataset.completed_at = utcnow()
    db.session.commit()
    connection, queue = current_app.extensions["redis"], queue_for_mode(dataset.mode)
    record_completion(connection, queue)
    record_outcome(connection, queue, "completed")
    seconds = (dataset.completed_at - dataset.started_at).total_seconds()
    record_duration(connection, dataset.mode, seconds)
    log.info("dataset %s completed in %.1f s: %s", dataset.id, seconds, dataset.progress_info)
    return {"dataset_id": dataset.id, "status": dataset.status}


def _replace_records(dataset: Dataset, load_logs: list[dict], result) -> None:
    """Idempotence: a re-run replaces the logs and the report of the previous run."""
    StepLog.query.filter_by(dataset_id=dataset.id).delete()
    CleaningReport.query.filter_by(dataset_id=dataset.id).delete()
    logs = {**result.logs, "cleaning": load_logs + result.logs.get("cleaning", [])}
    for step, entries in logs.items():
        # Stored bounded: a 100 KB cell or a long name is cut in the log, never in the data.
        db.session.add_all(StepLog(dataset_id=dataset.id, step=step, seq=i, **bounded(e))
                           for i, e in enumerate(entries))
    if result.report is not None:
        report = result.report
        details = {kind: report.get(kind) or [] for kind in REPORT_LISTS}
        db.session.add(CleaningReport(dataset_id=dataset.id, mode=dataset.mode, source=report["source"],
                                      reasoning=report["reasoning"], summary=report["summary"],
                                      recommendations=report["recommendations"], details=details))


def _save_graphs(storage, dataset: Dataset, figures: list[dict]) -> None:
    """PNGs to storage and one Graph row each; a re-run replaces the previous run's set."""
    stale = [key for (key,) in Graph.query.with_entities(Graph.storage_key).filter_by(dataset_id=dataset.id)]
    Graph.query.filter_by(dataset_id=dataset.id).delete()
    run = uuid.uuid4().hex[:8]  # new keys per run: cached URLs of an old run never show new images
    for number, figure in enumerate(figures, 1):
        key = f"datasets/{dataset.id}/graphs/{run}-{number:03d}-{figure['kind']}.png"
        storage.put_stream(key, io.BytesIO(figure["png"]))
        db.session.add(Graph(dataset_id=dataset.id, kind=figure["kind"], column=figure.get("column"),
                             title=figure["title"][:512], storage_key=key, width=figure["width"],
                             height=figure["height"]))
    for key in stale:
        storage.delete(key)


def advisor_outcome(mode: str, advisor: dict | None, configured: bool) -> dict | None:
    """The run's advisor record with a plain `reason` when smart or deep ran on heuristics."""
    if mode == "fast" or not isinstance(advisor, dict):
        return advisor
    reason = None
    if not advisor.get("used"):
        if not configured:
            reason = "no Gemini API key is configured (GEMINI_API_KEY)"
        elif advisor.get("error"):
            reason = f"the advisor failed ({advisor['error']})"
        else:
            reason = "no column had enough missing values to ask the advisor"
    return {**advisor, "reason": reason}


def done_sentence(summary: dict, filled: int) -> str:
    """The final progress_info: the shape, how many cells were filled in, and who decided (smart/deep)."""
    missing_in = summary.get("missing_in", 0)
    sentence = (f"Done: {summary.get('rows_out', 0):,} rows × {summary.get('columns_out', 0)} columns, "
                f"{filled:,} of {missing_in:,} missing cells filled in")
    advisor = summary.get("advisor") or {}
    if advisor.get("reason"):
        sentence += f"; ran on heuristics: {advisor['reason']}"
    elif advisor.get("used"):
        sentence += f"; the advisor decided {len(advisor.get('asked') or [])} column(s)"
    return sentence + "."


IMPUTED_COLUMNS = ["row", "column", "value", "action"]


def _imputed_table(imputed) -> pa.Table:
    """The imputed-cell list as a table; values of mixed types are written as text."""
    frame = imputed if isinstance(imputed, pd.DataFrame) else pd.DataFrame(columns=IMPUTED_COLUMNS)
    try:
        return to_table(frame)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        frame = frame.copy()
        frame["value"] = [None if pd.api.types.is_scalar(v) and pd.isna(v) else str(v) for v in frame["value"]]
        return to_table(frame)


def _put(storage, key: str, write: Callable[[str], None]) -> None:
    """Write a file to scratch with `write(path)`, then put it in storage under `key`."""
    fd, tmp = tempfile.mkstemp(dir=storage.scratch_dir(), suffix=os.path.splitext(key)[1])
    os.close(fd)
    try:
        write(tmp)
        check_output(tmp, os.path.basename(key), current_app.config["MAX_OUTPUT_MB"])  # before storage holds it
        storage.put_file(key, tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _put_csv(storage, key: str, table: pa.Table) -> int:
    """The CSV, and beside it its spreadsheet-safe copy when some cell or header needs one; how many did."""
    _put(storage, key, lambda tmp: write_csv(table, tmp))
    safe, count = neutralised(table)
    if count:
        _put(storage, safe_path(key), lambda tmp: write_csv(safe, tmp))
    else:
        storage.delete(safe_path(key))  # a re-run replaces its outputs: no stale copy
    return count


def _record_failure(dataset_id: str, exc: Exception, job=None) -> None:
    """Record the failure before the exception reaches RQ (which keeps the traceback).

    The user gets a plain reason; the operator's log gets the full exception. A failure that a
    retry cannot fix (see jobs.queues.is_final) cancels RQ's remaining retries on the running job.
    """
    db.session.rollback()
    dataset = db.session.get(Dataset, dataset_id)
    if dataset is None:
        return
    job = job or get_current_job()
    final = is_final(exc) or dataset.attempts >= MAX_ATTEMPTS
    will_retry = job is not None and (job.retries_left or 0) > 0 and not final
    if job is not None and not will_retry:
        job.retries_left = 0  # RQ reads this right after the job returns: failed at once, no retry
    message, error_id = user_message(exc, memory_mb=current_app.config["JOB_MEMORY_MB"],
                                     timeout=job.timeout if job is not None else None)
    if error_id:
        log.error("dataset %s failed, error id %s", dataset_id, error_id, exc_info=exc)
    else:
        log.warning("dataset %s failed (%s): %s: %s", dataset_id, "will retry" if will_retry else "final",
                    type(exc).__name__, str(exc)[:2000])
    dataset.error = message
    if will_retry:
        dataset.status, dataset.progress_info = Status.QUEUED.value, f"Failed, will retry: {message[:300]}"
    else:
        dataset.status, dataset.progress_info = Status.FAILED.value, f"Failed: {message[:300]}"
        dataset.completed_at = utcnow()
    db.session.commit()
    record_outcome(current_app.extensions["redis"], queue_for_mode(dataset.mode),
                   "retried" if will_retry else "failed")


def record_horse_death(job, signum: int, peak_mb: float | None) -> None:
    """Called by the worker whose job's process died from a signal: the dataset fails for good."""
    dataset_id = dataset_id_from_job(job.id)
    if dataset_id:
        _record_failure(dataset_id, HorseKilled(signum, peak_mb), job=job)
