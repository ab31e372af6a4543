"""The glue routes call: submit a dataset, describe it, list and page through datasets."""
from __future__ import annotations

import base64
import logging
from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import and_, or_
from sqlalchemy.exc import SQLAlchemyError

from jobs.events import publish_state
from jobs.fetch import PENDING_FORMAT
from jobs.queues import discard_job, enqueue_dataset, job_id_for, queue_for_mode

from .auth import visible_datasets
from .errors import APIError
from .logs import bound, current
from .extensions import db
from .ingest import Intake, database_name, url_filename
from .layout import dataset_folder, raw_key
from .models import CleaningReport, Dataset, Graph, Mode, ModeUsage, Run, Status, StepLog, iso, new_id
from .options import effective, shown_options
from .storage import StorageError
from .views import links

log = logging.getLogger(__name__)


def submit_dataset(intake: Intake, *, user_id: str, collaboration_id: str | None, mode: str,
                   target: str | None, options: dict | None = None, usage: ModeUsage | None = None,
                   webhook: tuple[str | None, int | None] = (None, None)) -> tuple[Dataset, bool]:
    """Store the raw file, record the dataset, enqueue its job. Returns (dataset, enqueued)."""
    storage = current_app.extensions["storage"]
    info = intake.info
    dataset_id = new_id()
    extension = {"jsonl": "jsonl", "tsv": "tsv"}.get(info.format, info.format)
    dataset = Dataset(
        id=dataset_id, user_id=user_id, collaboration_id=collaboration_id, mode=mode, target=target,
        options=effective(options),
        status=Status.QUEUED.value, progress=0, progress_info="Waiting for a worker.",
        filename=intake.filename, database_name=database_name(intake.filename), file_format=info.format,
        encoding=info.encoding, delimiter=info.delimiter, size_bytes=intake.size, source_url=intake.source_url,
        rows=info.rows, columns=info.columns, raw_key=raw_key(dataset_id, extension),
        job_id=job_id_for(dataset_id),
    )
    storage.put_file(dataset.raw_key, intake.tmp_path)
    return _record(dataset, usage, webhook)


def submit_url(url: str, *, user_id: str, collaboration_id: str | None, mode: str, target: str | None,
               options: dict | None = None, usage: ModeUsage | None = None,
               webhook: tuple[str | None, int | None] = (None, None)) -> tuple[Dataset, bool]:
    """Record a dataset given by URL and enqueue its job, which downloads it (jobs.fetch): no request
    waits on a remote server. Its shape is 0 x 0 until the worker has inspected the file."""
    dataset_id, filename = new_id(), url_filename(url)
    dataset = Dataset(
        id=dataset_id, user_id=user_id, collaboration_id=collaboration_id, mode=mode, target=target,
        options=effective(options), status=Status.QUEUED.value, progress=0,
        progress_info="Waiting for a worker to download the file.", filename=filename,
        database_name=database_name(filename), file_format=PENDING_FORMAT, source_url=url,
        raw_key=raw_key(dataset_id), job_id=job_id_for(dataset_id),
    )
    return _record(dataset, usage, webhook)


def new_run(dataset: Dataset, number: int, trigger: str, usage: ModeUsage | None,
            webhook: tuple[str | None, int | None] = (None, None)) -> Run:
    """The run record of an upload or a reprocess, with the settings it runs with and the webhook to call
    when it ends (flushed: usage gets its id)."""
    db.session.flush()  # the dataset row must exist before the usage and the run point at it
    if usage is not None:
        usage = db.session.merge(usage)
        usage.dataset_id = dataset.id
    run = Run(dataset_id=dataset.id, number=number, trigger=trigger, mode=dataset.mode, target=dataset.target,
              options=dataset.options, queue=queue_for_mode(dataset.mode), attempts=[],
              usage_id=usage.id if usage is not None else None, callback_url=webhook[0],
              webhook_token_id=webhook[1])
    db.session.add(run)
    return run


def _record(dataset: Dataset, usage: ModeUsage | None, webhook: tuple[str | None, int | None]) -> tuple[Dataset, bool]:
    """Commit the dataset row (its first run, its quota use), then enqueue its job."""
    storage = current_app.extensions["storage"]
    dataset_id = dataset.id
    try:
        db.session.add(dataset)
        new_run(dataset, 1, "upload", usage, webhook)
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        storage.delete_prefix(dataset_folder(dataset_id))
        log.error("could not record dataset: %s", exc)
        raise APIError(503, "database_unavailable", "The database is unavailable; nothing was stored.") from exc
    return dataset, enqueue(dataset, "accepted")


def enqueue(dataset: Dataset, what: str) -> bool:
    """Put the dataset's current run on its queue; False when Redis is down (recovery enqueues it later)."""
    try:
        with bound(dataset_id=dataset.id, user=dataset.user_id):
            log.info("dataset %s %s (%s mode, %s), enqueuing", dataset.id, what, dataset.mode, dataset.file_format)
            enqueue_dataset(current_app.extensions["redis"], dataset.id, dataset.mode, run=dataset.run,
                            request_id=current("request_id"))
        publish_state(current_app.extensions["redis"], dataset)
        return True
    except RedisError as exc:
        # The row is the source of truth: recovery enqueues it once Redis is back.
        log.warning("enqueue of %s failed, left for recovery: %s", dataset.id, exc)
        try:  # what the page and the status say instead of "Waiting for a worker"
            dataset.progress_info = ("Not queued yet: the queue (Redis) is unreachable. It is queued "
                                     "automatically once Redis is back.")
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
        return False


def advisor_state(dataset: Dataset) -> dict | None:
    """Smart and deep: whether the LLM advisor decided anything, and plainly why not. None for fast
    mode and before a run has finished."""
    if dataset.mode == Mode.FAST:
        return None
    advisor = (dataset.summary or {}).get("advisor")
    if not isinstance(advisor, dict):
        return None
    used = bool(advisor.get("used"))
    reason = None if used else (advisor.get("reason") or advisor.get("error")
                                or "no column needed the advisor")
    return {"used": used, "reason": reason, "model": advisor.get("model"), "columns": advisor.get("asked") or []}


def describe(dataset: Dataset) -> dict:
    return {
        "dataset_id": dataset.id, "status": dataset.status, "mode": dataset.mode,
        "database_name": dataset.database_name, "filename": dataset.filename,
        "user_id": dataset.user_id, "collaboration_id": dataset.collaboration_id, "target": dataset.target,
        "progress": dataset.progress, "stage": dataset.stage, "progress_info": dataset.progress_info,
        "rows": dataset.rows, "columns": dataset.columns,
        "cleaned_rows": dataset.cleaned_rows, "cleaned_columns": dataset.cleaned_columns,
        "run": dataset.run, "attempts": dataset.attempts, "error": dataset.error,
        "created_at": iso(dataset.created_at), "updated_at": iso(dataset.updated_at),
        "started_at": iso(dataset.started_at), "completed_at": iso(dataset.completed_at),
        "options": shown_options(dataset.options), "advisor": advisor_state(dataset),
        "summary": dataset.summary, "links": links(dataset),
    }


def _encode_cursor(dataset: Dataset) -> str:
    raw = f"{iso(dataset.created_at)}|{dataset.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, dataset_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")), dataset_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise APIError(400, "invalid_cursor", "The cursor is not one this API returned.") from exc


def filtered(user_id: str | None, collaboration_id: str | None, status: str | None = None):
    query = visible_datasets(user_id, collaboration_id)
    if status is not None:
        if status not in {s.value for s in Status}:
            raise APIError(400, "invalid_parameter", f"Unknown status {status!r}.")
        query = query.filter(Dataset.status == status)
    return query


def page(query, limit: int, cursor: str | None, offset: int | None) -> tuple[list[Dataset], str | None]:
    """Newest first; keyset pagination by (created_at, id), or a plain offset."""
    query = query.order_by(Dataset.created_at.desc(), Dataset.id.desc())
    if cursor:
        stamp, last_id = _decode_cursor(cursor)
        if db.engine.dialect.name == "sqlite":
            stamp = stamp.replace(tzinfo=None)
        query = query.filter(or_(Dataset.created_at < stamp,
                                 and_(Dataset.created_at == stamp, Dataset.id < last_id)))
    elif offset:
        query = query.offset(offset)
    rows = query.limit(limit + 1).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_encode_cursor(rows[-1]) if more and rows else None)


def log_entries(dataset: Dataset, step: str) -> list[dict]:
    rows = StepLog.query.filter_by(dataset_id=dataset.id, step=step).order_by(StepLog.seq).all()
    return [{"seq": r.seq, "column": r.column, "action": r.action, "count": r.count, "params": r.params,
             "source": r.source, "before": r.before, "after": r.after, "message": r.message} for r in rows]


def delete_dataset(dataset: Dataset) -> None:
    """Remove a dataset's rows and files. Queued work is cancelled; running work must finish first."""
    if dataset.status == Status.PROCESSING.value:
        raise APIError(409, "busy", "The dataset is being processed; delete it once it has finished.")
    connection = current_app.extensions["redis"]
    try:
        discard_job(connection, dataset.job_id)  # a worker that took it already finds no row
    except RedisError as exc:
        log.warning("could not remove job %s from Redis (%s); the job will find no dataset", dataset.job_id, exc)
    dataset_id = dataset.id
    for model in (Graph, StepLog, CleaningReport, Run):
        model.query.filter_by(dataset_id=dataset_id).delete()
    # Quota usage outlives the dataset: deleting and re-uploading must not reset a quota.
    ModeUsage.query.filter_by(dataset_id=dataset_id).update({"dataset_id": None})
    # Conditional: a worker may have started the job since we looked.
    gone = Dataset.query.filter(Dataset.id == dataset_id, Dataset.status != Status.PROCESSING.value).delete()
    if not gone:
        db.session.rollback()
        raise APIError(409, "busy", "The dataset is being processed; delete it once it has finished.")
    db.session.commit()
    try:
        current_app.extensions["storage"].delete_prefix(dataset_folder(dataset_id))
    except StorageError as exc:  # the rows are gone; leftover files are logged for the operator
        log.error("dataset %s deleted but its files were not: %s", dataset_id, exc)
