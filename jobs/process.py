"""process_dataset: the RQ job that loads, cleans and saves one dataset."""
from __future__ import annotations

import io
import logging
import time
import traceback
import uuid

from flask import current_app
from rq import get_current_job
from sqlalchemy import update

from app.extensions import db
from app.layout import dataset_folder, folder_of, run_prefix
from app.logs import bind, unbind
from app.models import CleaningReport, Dataset, Graph, Mode, Run, Stage, Status, StepLog, utcnow
from jobs.pipeline.entries import bounded
from jobs.pipeline.export import safe_path
from jobs.pipeline.load import FileInfo, load_step
from jobs.pipeline.options import PipelineOptions
from jobs.pipeline.cleaning_plan import PLAN_FILE, REPAIRS_FILE, VALIDATION_FILE, build_plan, validation_summary
from jobs.pipeline.runner import run_pipeline

from .advisor import advisor_from_config
from .context import app_context
from .events import publish_state
from .webhooks import announce
from .fetch import awaiting_download, fetch_source
from .failures import HorseKilled, JobGaveUp, memory_error_in, user_message
from .limits import check_decoded, check_estimate, cores_to_spare
from .outputs import save_outputs
from .queues import MAX_ATTEMPTS, dataset_id_from_job, is_final, queue_for_mode
from .scaling.counters import record_duration, record_outcome
from .scaling.stats import record_completion

log = logging.getLogger(__name__)
PROGRESS_EVERY = 0.5  # seconds between progress writes, so progress never slows the job
REPORT_LISTS = ("changed", "flagged", "left_alone")  # the deep report's lists, kept in CleaningReport.details


LEGACY_OUTPUTS = ("cleaned.csv", "cleaned.parquet", "imputed.csv", "features.csv", "features.parquet")


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
        publish_state(current_app.extensions["redis"], self.dataset)  # to the dataset's event stream (SSE)


def process_dataset(dataset_id: str) -> dict:
    """Run the pipeline for one dataset. Idempotent: a re-run replaces outputs and logs."""
    job = get_current_job()
    # Every line this job writes names the dataset, the job and the upload's request (from the job's meta).
    context = bind(dataset_id=dataset_id, job_id=job.id if job else None,
                   request_id=(job.meta or {}).get("request_id") if job else None)
    try:
        with app_context():
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
    job = get_current_job()
    meant = (job.meta or {}).get("run", dataset.run) if job else dataset.run
    if dataset.status == Status.CANCELLED.value or meant != dataset.run:  # cancelled, or a later run asked for
        log.info("dataset %s run %s is cancelled or replaced: nothing to do", dataset.id, meant)
        return {"dataset_id": dataset.id, "status": dataset.status}
    dataset.attempts += 1
    run = dataset.current_run()
    if run is not None:
        run.begin_attempt(dataset.attempts, job.worker_name if job else None)
    if dataset.attempts > MAX_ATTEMPTS:
        raise JobGaveUp(f"Gave up after {MAX_ATTEMPTS} attempts: the job kept crashing its worker.")
    dataset.status, dataset.error = Status.PROCESSING.value, None
    dataset.started_at = utcnow()  # completed_at stays the served run's until this one replaces it
    number, progress = dataset.run, ProgressWriter(dataset)
    if awaiting_download(dataset) and not fetch_source(dataset, progress):
        return {"dataset_id": dataset.id, "status": dataset.status}  # refused as an upload would be: not retried
    progress(Stage.LOADING, 5, f"Loading {dataset.filename} (attempt {dataset.attempts})", force=True)
    log.info("dataset %s processing (%s mode, attempt %d)", dataset.id, dataset.mode, dataset.attempts)

    storage = current_app.extensions["storage"]
    options = PipelineOptions.from_stored(dataset.mode, dataset.target, dataset.options)
    frame, load_logs = _load(storage, dataset, options)
    advise = advisor_from_config(current_app.config) if dataset.mode != Mode.FAST else None
    prefix = run_prefix(dataset.id, number)
    parallel = current_app.config["JOB_PARALLEL"] and cores_to_spare(current_app.extensions["redis"],
                                                                      job.worker_name if job else None)
    result = run_pipeline(frame, options, progress, advise, parallel=parallel)
    features = result.features  # None when the upload switched the feature step off
    progress(Stage.SAVING, 90, f"Saving {len(result.frame):,} cleaned rows"
             + (f" and {features.shape[1]} features" if features is not None else ""), force=True)
    documents = {PLAN_FILE: build_plan(load_logs[0], options, result), REPAIRS_FILE: result.repairs}
    if result.validation is not None:
        documents[VALIDATION_FILE] = result.validation
    escaped = save_outputs(storage, prefix, result, load_logs[0]["params"].get("headers"),
                           current_app.config["MAX_OUTPUT_MB"], documents)
    csv_key = f"{prefix}/cleaned.csv"
    features_key = f"{prefix}/features.csv" if features is not None else None
    _replace_records(dataset, load_logs, result)
    stale = _save_graphs(storage, dataset, result.figures, prefix)
    served = dataset.cleaned_key  # the previous run's outputs, served until this commit
    dataset.cleaned_key, dataset.features_key = csv_key, features_key
    dataset.cleaned_rows, dataset.cleaned_columns = result.frame.shape
    summary = _summary(dataset.mode, result, options, escaped, advise is not None)
    dataset.summary, dataset.features = summary, result.feature_descriptions
    dataset.statistics = result.statistics
    dataset.stage, dataset.progress = None, 100
    dataset.progress_info = done_sentence(summary, len(result.imputed) if result.imputed is not None else 0)
    dataset.completed_at = utcnow()
    if run is not None:
        run.end_attempt(Status.COMPLETED.value)
    db.session.flush()
    # The status last and only if this run is still the dataset's and nobody cancelled it meanwhile (a
    # conditional update: the database decides, not a read that could be stale by the time we write).
    claimed = db.session.execute(update(Dataset).where(
        Dataset.id == dataset.id, Dataset.run == number, Dataset.status == Status.PROCESSING.value)
        .values(status=Status.COMPLETED.value)).rowcount
    if not claimed:
        db.session.rollback()
        storage.delete_prefix(prefix)
        log.info("dataset %s run %d was cancelled or replaced meanwhile: its outputs are discarded", dataset.id,
                 number)
        return {"dataset_id": dataset.id, "status": Status.CANCELLED.value}
    db.session.commit()
    publish_state(current_app.extensions["redis"], dataset)
    announce(current_app.extensions["redis"], dataset, run)
    _drop_outputs(storage, dataset.id, served, prefix, stale)
    _count_completed(current_app.extensions["redis"], dataset)
    return {"dataset_id": dataset.id, "status": dataset.status}


def _load(storage, dataset: Dataset, options: PipelineOptions):
    info = FileInfo(format=dataset.file_format, encoding=dataset.encoding, delimiter=dataset.delimiter)
    limit = current_app.config["MAX_DECODED_MB"]
    with storage.local_path(dataset.raw_key) as path:
        # Refused before a frame exists when the shape or a Parquet sample already says too large.
        check_estimate(path, info.format, dataset.rows, dataset.columns, limit)
        frame, load_logs = load_step(path, info, na_values=options.na_values)
    check_decoded(frame, limit)
    return frame, load_logs


def _summary(mode: str, result, options: PipelineOptions, escaped: dict, advised: bool) -> dict:
    summary = dict(result.summary, formulas_neutralised=escaped)  # per CSV; >0: a .safe.csv copy is served
    if result.validation is not None:
        summary["validation"] = validation_summary(result.validation, options.plan)
    advisor = advisor_outcome(mode, summary.get("advisor"), advised)
    if advisor is not None:
        summary["advisor"] = advisor
    return summary


def _count_completed(connection, dataset: Dataset) -> None:
    """The queue's completion rate and outcome counts, and the mode's durations (the autoscaler reads them)."""
    queue = queue_for_mode(dataset.mode)
    record_completion(connection, queue)
    record_outcome(connection, queue, "completed")
    seconds = (dataset.completed_at - dataset.started_at).total_seconds()
    record_duration(connection, dataset.mode, seconds)
    log.info("dataset %s completed in %.1f s: %s", dataset.id, seconds, dataset.progress_info)


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


def _save_graphs(storage, dataset: Dataset, figures: list[dict], prefix: str) -> list[str]:
    """PNGs to storage and one Graph row each, replacing the previous set's rows; returns the previous files."""
    stale = [key for (key,) in Graph.query.with_entities(Graph.storage_key).filter_by(dataset_id=dataset.id)]
    Graph.query.filter_by(dataset_id=dataset.id).delete()
    attempt = uuid.uuid4().hex[:8]  # new keys each time: a cached URL never shows another image
    for number, figure in enumerate(figures, 1):
        key = f"{prefix}/graphs/{attempt}-{number:03d}-{figure['kind']}.png"
        storage.put_stream(key, io.BytesIO(figure["png"]))
        db.session.add(Graph(dataset_id=dataset.id, kind=figure["kind"], column=figure.get("column"),
                             title=figure["title"][:512], storage_key=key, width=figure["width"],
                             height=figure["height"]))
    return stale


def _drop_outputs(storage, dataset_id: str, served: str | None, prefix: str, stale: list[str]) -> None:
    """Once a run's outputs are served, the previous run's files go (the layout before runs, too)."""
    for key in stale:
        storage.delete(key)
    if served is None or served.startswith(prefix + "/"):
        return
    folder = folder_of(served)
    if folder == dataset_folder(dataset_id):  # a dataset cleaned before runs kept its outputs beside the raw file
        for name in LEGACY_OUTPUTS:
            storage.delete(f"{folder}/{name}")
            if name.endswith(".csv"):
                storage.delete(safe_path(f"{folder}/{name}"))
    else:
        storage.delete_prefix(folder)


def advisor_outcome(mode: str, advisor: dict | None, configured: bool) -> dict | None:
    """The run's advisor record with a plain `reason` when smart or deep ran on heuristics."""
    if mode == Mode.FAST or not isinstance(advisor, dict):
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
    run = dataset.current_run()
    if dataset.status == Status.CANCELLED.value:  # the user stopped it: that is the outcome, not this error
        if run is not None:
            run.end_attempt(Status.CANCELLED.value, final=False)
        db.session.commit()
        return
    dataset.error = message
    if run is not None:
        run.end_attempt("retrying" if will_retry else Status.FAILED.value, message, final=not will_retry)
    if will_retry:
        dataset.status, dataset.progress_info = Status.QUEUED.value, f"Failed, will retry: {message[:300]}"
    else:
        dataset.status, dataset.progress_info = Status.FAILED.value, f"Failed: {message[:300]}"
        if dataset.cleaned_key is None:  # else completed_at stays the served (previous) run's
            dataset.completed_at = utcnow()
    db.session.commit()
    publish_state(current_app.extensions["redis"], dataset)
    if not will_retry:
        announce(current_app.extensions["redis"], dataset, run)
    record_outcome(current_app.extensions["redis"], queue_for_mode(dataset.mode),
                   "retried" if will_retry else "failed")


def record_horse_death(job, signum: int, peak_mb: float | None) -> None:
    """Called by the worker whose job's process died from a signal: the dataset fails for good."""
    dataset_id = dataset_id_from_job(job.id)
    if dataset_id:
        _record_failure(dataset_id, HorseKilled(signum, peak_mb), job=job)


def discard_stopped(job, connection) -> None:
    """RQ's on_stopped callback, in the worker once the cancelled job's horse is gone: what the horse wrote
    after the cancel (under its own run's prefix, never the served one) is removed, the attempt closed."""
    dataset_id, run = dataset_id_from_job(job.id), (job.meta or {}).get("run")
    if not dataset_id or run is None:
        return
    with app_context():
        current_app.extensions["storage"].delete_prefix(run_prefix(dataset_id, run))
        found = Run.query.filter_by(dataset_id=dataset_id, number=run).one_or_none()  # gone with its dataset
        if found is not None:
            found.end_attempt(Status.CANCELLED.value, final=found.outcome is None)
            db.session.commit()
        log.info("dataset %s run %s stopped; its partial outputs are removed", dataset_id, run)
