"""A URL dataset's first job step: download under the SSRF guard, check it as an upload, store it."""
from __future__ import annotations

import logging
from typing import Callable
from urllib.parse import urlsplit

from flask import current_app

from app.errors import APIError
from app.extensions import db
from app.ingest import check_columns, database_name, fetch_url, validate
from app.layout import raw_key
from app.models import Dataset, ModeUsage, Status, utcnow
from app.options import effective

from .events import publish_state
from .webhooks import announce
from .queues import queue_for_mode
from .scaling.counters import record_outcome

log = logging.getLogger(__name__)
PENDING_FORMAT = "url"  # file_format of a dataset whose file is still at its URL
FETCHING = "fetching"  # its stage while a worker downloads it


def awaiting_download(dataset: Dataset) -> bool:
    return dataset.source_url is not None and dataset.file_format == PENDING_FORMAT


def fetch_source(dataset: Dataset, progress: Callable[..., None]) -> bool:
    """Download, check and store the dataset's file, recording its shape; False when it was refused.

    A refusal is what an upload of the same file would have been answered, with the same code
    and message; it is recorded as `failed` and not retried (the same URL would be refused again).
    Storage and database errors propagate, so RQ retries them.
    """
    config, storage = current_app.config, current_app.extensions["storage"]
    # The host only: a URL's path or query may carry a token, and collaborators see the status too.
    progress(FETCHING, 2, f"Downloading from {urlsplit(dataset.source_url).hostname}", force=True)
    try:
        intake = fetch_url(dataset.source_url, storage.scratch_dir(), config["MAX_UPLOAD_MB"],
                           config["URL_FETCH_TIMEOUT"], config["ALLOW_PRIVATE_URLS"])
        try:
            info = validate(intake, config["MAX_ROWS"], config["MAX_COLUMNS"])
            check_columns(info, dataset.target, effective(dataset.options)["roles"])
            key = raw_key(dataset.id, info.format)
            storage.put_file(key, intake.tmp_path)
        finally:
            intake.discard()
    except APIError as exc:
        _refuse(dataset, exc)
        return False
    dataset.raw_key, dataset.file_format = key, info.format
    dataset.encoding, dataset.delimiter, dataset.size_bytes = info.encoding, info.delimiter, intake.size
    dataset.rows, dataset.columns = info.rows, info.columns
    dataset.filename, dataset.database_name = intake.filename, database_name(intake.filename)
    db.session.commit()
    return True


def _refuse(dataset: Dataset, exc: APIError) -> None:
    """`failed` with the upload's error code first in `error`; like a refused upload, no quota is spent."""
    log.info("dataset %s: download refused (%s): %s", dataset.id, exc.code, exc.message)
    dataset.status, dataset.stage, dataset.completed_at = Status.FAILED.value, None, utcnow()
    dataset.error, dataset.progress_info = f"{exc.code}: {exc.message}", f"Failed: {exc.message}"
    run = dataset.current_run()
    if run is not None:
        run.end_attempt(Status.FAILED.value, dataset.error)
    ModeUsage.query.filter_by(dataset_id=dataset.id).delete()
    db.session.commit()
    publish_state(current_app.extensions["redis"], dataset)
    announce(current_app.extensions["redis"], dataset, run)
    record_outcome(current_app.extensions["redis"], queue_for_mode(dataset.mode), "failed")
