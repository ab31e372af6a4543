"""Job control: cancel a dataset's run, run it again on the stored raw file, and its run history."""
from __future__ import annotations

import logging

from flask import current_app
from redis.exceptions import RedisError
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation
from rq.job import Job, JobStatus
from sqlalchemy import update

from jobs.events import publish_state
from jobs.fetch import awaiting_download
from jobs.webhooks import announce
from jobs.queues import delete_job, discard_job, queue_for_mode
from jobs.scaling.counters import record_outcome

from .auth import principal, request_raw, request_value
from .errors import APIError
from .extensions import db
from .ingest import Intake, check_columns, validate
from .layout import run_prefix
from .models import FINAL_STATUSES, MODES, Dataset, ModeUsage, Run, Status, as_utc, served_run
from .options import effective, read_options, shown_options
from .plans import plan_options
from .quotas import IN_FLIGHT, check_user_load, release_quota, reserve_quota
from .services import enqueue, iso, new_run
from .uploads import read_webhook

log = logging.getLogger(__name__)


def owner_only(dataset: Dataset, action: str) -> None:
    """Token mode: only the dataset's owner changes its runs (collaborators see them)."""
    who = principal()
    if who is not None and who.user_id != dataset.user_id:
        raise APIError(403, "forbidden", f"Only the dataset's owner may {action} it.")


def cancel_dataset(dataset: Dataset) -> bool:
    """Cancel the latest run: a queued job leaves its queue, a running one is stopped (RQ's stop-job command
    reaches its work horse). Returns whether its quota was given back (only when no attempt had started)."""
    owner_only(dataset, "cancel")
    if dataset.status in FINAL_STATUSES:
        raise APIError(409, "not_cancellable", f"The dataset is {dataset.status}; only queued or processing "
                       "work can be cancelled.", {"status": dataset.status})
    run = dataset.current_run()
    claimed = db.session.execute(update(Dataset).where(
        Dataset.id == dataset.id, Dataset.run == dataset.run, Dataset.status.in_(IN_FLIGHT))
        .values(status=Status.CANCELLED.value, stage=None, progress_info="Cancelled.")).rowcount
    if not claimed:  # it finished between our read and the update
        db.session.rollback()
        raise APIError(409, "not_cancellable", "The dataset finished meanwhile.", {"status": dataset.status})
    refunded = run is not None and run.started_at is None and run.usage_id is not None
    if refunded:
        ModeUsage.query.filter_by(id=run.usage_id).delete()
    if run is not None:
        run.end_attempt(Status.CANCELLED.value)
    db.session.commit()
    publish_state(current_app.extensions["redis"], dataset)
    announce(current_app.extensions["redis"], dataset, run)
    _stop_job(dataset)
    current_app.extensions["storage"].delete_prefix(run_prefix(dataset.id, dataset.run))  # partial outputs
    log.info("dataset %s run %d cancelled%s", dataset.id, dataset.run, " (quota given back)" if refunded else "")
    return refunded


def _stop_job(dataset: Dataset) -> None:
    """Take the job off its queue, or stop its work horse; a job Redis lost finds the dataset cancelled."""
    connection = current_app.extensions["redis"]
    try:
        job = Job.fetch_many([dataset.job_id], connection=connection)[0]
        if job is None:
            return
        if job.get_status(refresh=False) == JobStatus.STARTED:
            try:
                send_stop_job_command(connection, job.id)  # the worker kills the horse within a second
            except InvalidJobOperation:  # taken but not yet executing: the job finds the dataset cancelled
                pass
        else:
            delete_job(job)  # off its queue, or the retry schedule
        record_outcome(connection, queue_for_mode(dataset.mode), "cancelled")
    except RedisError as exc:
        log.warning("could not stop job %s (%s): the worker finds the dataset cancelled and discards its work",
                    dataset.job_id, exc)


def reprocess_dataset(dataset: Dataset) -> bool:
    """Run the pipeline again on the stored raw file with the request's mode, target and options (the previous
    run's where not given); its outputs replace the served ones only once it completes. Returns enqueued."""
    owner_only(dataset, "reprocess")
    if dataset.status not in FINAL_STATUSES:
        raise APIError(409, "busy", f"The dataset is {dataset.status}; cancel it or wait until it has finished.",
                       {"status": dataset.status})
    if dataset.raw_purged_at is not None:
        raise APIError(410, "purged", "The original file was removed by the retention setting; it cannot be "
                       "cleaned again.", {"purged_at": iso(dataset.raw_purged_at)})
    mode = (request_value("mode") or dataset.mode).strip().lower()
    if mode not in MODES:
        raise APIError(400, "invalid_mode", f"mode must be one of {', '.join(MODES)}; got {mode!r}.")
    given = request_raw("target")
    target = dataset.target if given is None else (str(given).strip() or None)
    options = read_options(effective(dataset.options))
    options, target = plan_options(options, target, dataset.options)
    previous = dataset.current_run()
    webhook = read_webhook((previous.callback_url, previous.webhook_token_id) if previous else (None, None))
    if not awaiting_download(dataset) and (given is not None or request_raw("roles") is not None):
        _check_columns(dataset, target, options["roles"])
    check_user_load(dataset.user_id, 0, lock=False)  # 429 too_many_jobs
    usage = reserve_quota(dataset.user_id, mode)
    try:
        claimed = db.session.execute(update(Dataset).where(
            Dataset.id == dataset.id, Dataset.run == dataset.run, Dataset.status.in_(FINAL_STATUSES))
            .values(run=dataset.run + 1, status=Status.QUEUED.value)).rowcount
        if not claimed:
            raise APIError(409, "busy", "Another request started a run of this dataset meanwhile.")
        db.session.refresh(dataset)
        dataset.mode, dataset.target, dataset.options = mode, target, options
        dataset.stage, dataset.progress, dataset.attempts, dataset.error = None, 0, 0, None
        dataset.progress_info = f"Waiting for a worker (run {dataset.run})."
        new_run(dataset, dataset.run, "reprocess", usage, webhook)
        db.session.commit()
    except BaseException:
        release_quota(usage)
        raise
    _forget_job(dataset)
    return enqueue(dataset, f"run {dataset.run} requested")


def _check_columns(dataset: Dataset, target: str | None, roles: dict[str, str]) -> None:
    """422 for a target or role column the stored file does not have (its header read again, streamed)."""
    config = current_app.config
    with current_app.extensions["storage"].local_path(dataset.raw_key) as path:
        intake = Intake(tmp_path=path, filename=dataset.filename, size=dataset.size_bytes or 1)
        check_columns(validate(intake, config["MAX_ROWS"], config["MAX_COLUMNS"]), target, roles)


def _forget_job(dataset: Dataset) -> None:
    """The finished run's job record (failed or stopped jobs stay a day in their registry) makes way."""
    try:
        discard_job(current_app.extensions["redis"], dataset.job_id)
    except RedisError as exc:
        log.warning("could not remove the finished job %s: %s", dataset.job_id, exc)


def describe_runs(dataset: Dataset) -> list[dict]:
    """Every run, newest first, with its attempts (worker, start, end, duration, outcome, error)."""
    rows = Run.query.filter_by(dataset_id=dataset.id).order_by(Run.number.desc()).all()
    served = served_run(dataset)
    return [{"run": r.number, "trigger": r.trigger, "mode": r.mode, "queue": r.queue, "target": r.target,
             "options": shown_options(r.options), "outcome": r.outcome or (dataset.status if r.number == dataset.run else None),
             "error": r.error, "created_at": iso(r.created_at), "started_at": iso(r.started_at),
             "ended_at": iso(r.ended_at), "duration_s": _seconds(r.started_at, r.ended_at),
             "served": r.number == served, "attempts": r.attempts or [],
             "callback_url": r.callback_url, "deliveries": r.deliveries or []} for r in rows]


def _seconds(start, end) -> float | None:
    return round((as_utc(end) - as_utc(start)).total_seconds(), 3) if start and end else None
