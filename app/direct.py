"""Direct uploads: reserve a dataset and a form to send its file straight to storage, then complete it.

With S3 the form is a presigned POST to the bucket (this key only, at most the declared size, until it
expires), so a file larger than a PaaS router lets through in 30 s never passes the web process. With local
storage the same form posts to the API itself (POST /dataset/{id}/file), so clients have one code path."""
from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from pathlib import Path

from flask import current_app, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from jobs.pipeline.load import EXTENSIONS
from jobs.queues import job_id_for

from .auth import request_raw, request_value
from .errors import APIError
from .extensions import db
from .ingest import Intake, check_columns, clean_filename, database_name, receive_upload, validate
from .layout import dataset_folder, raw_key
from .models import Dataset, ModeUsage, Run, Status, as_utc, new_id, utcnow
from .quotas import MB, check_user_load, release_quota, reserve_quota
from .services import enqueue, iso, new_run
from .uploads import read_settings

log = logging.getLogger(__name__)


def reserve_upload() -> tuple[Dataset, dict]:
    """A dataset awaiting its file (quota reserved) and the form to send the file with."""
    config = current_app.config
    settings = read_settings()
    filename = clean_filename(request_value("filename"))
    suffix = Path(filename).suffix.lower()
    if suffix not in EXTENSIONS:
        raise APIError(415, "unsupported_format", f"Files of type {suffix or '(none)'!r} are not supported.",
                       {"supported": sorted(set(EXTENSIONS))})
    limit = config["MAX_UPLOAD_MB"] * MB
    raw = request_raw("size")
    try:
        if isinstance(raw, float) and raw.is_integer():  # JSON's 1.0 is an integer too
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise ValueError(raw)
        size = int(raw)
    except ValueError:
        raise APIError(400, "invalid_parameter", "size must be the file's size in bytes.", {"field": "size"}) from None
    if not 0 < size <= limit:
        raise APIError(413 if size > limit else 400, "too_large" if size > limit else "invalid_parameter",
                       f"size must be 1 to {limit} bytes (MAX_UPLOAD_MB={config['MAX_UPLOAD_MB']}).",
                       {"field": "size", "max_upload_mb": config["MAX_UPLOAD_MB"]})
    check_user_load(settings.user_id, size, lock=False)  # 429: jobs in flight, or the user's storage full
    usage = reserve_quota(settings.user_id, settings.mode)
    storage, dataset_id = current_app.extensions["storage"], new_id()
    try:
        dataset = Dataset(
            id=dataset_id, user_id=settings.user_id, collaboration_id=settings.collaboration_id, mode=settings.mode,
            target=settings.target, options=settings.options, status=Status.AWAITING_FILE.value, progress=0,
            progress_info="Waiting for the file to be uploaded.", filename=filename,
            database_name=database_name(filename), file_format=suffix.lstrip("."), size_bytes=size,
            raw_key=raw_key(dataset_id, suffix), job_id=job_id_for(dataset_id),
            upload_secret=secrets.token_urlsafe(32))
        db.session.add(dataset)
        new_run(dataset, 1, "upload", usage, settings.webhook)
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        release_quota(usage)
        raise APIError(503, "database_unavailable", "The database is unavailable; nothing was reserved.") from exc
    seconds = config["UPLOAD_URL_SECONDS"]
    form = storage.presigned_post(dataset.raw_key, size, seconds)
    if form is None:  # local storage: the same form, to our own API, with a secret only this reservation knows
        form = {"url": url_for("direct.receive", dataset_id=dataset.id, _external=True),
                "fields": {"upload_secret": dataset.upload_secret}}
    upload = {"method": "POST", "url": form["url"], "fields": form["fields"], "file_field": "file",
              "max_bytes": size, "expires_at": iso(expires_at(dataset))}
    return dataset, upload


def receive_file(dataset: Dataset) -> int:
    """Local storage's stand-in for the bucket: the reservation's form, its file spooled into storage."""
    given = request.form.get("upload_secret") or ""
    if dataset.upload_secret is None or not hmac.compare_digest(given, dataset.upload_secret):
        raise APIError(403, "forbidden", "Not this reservation's upload form.")
    _awaiting(dataset)
    upload = request.files.get("file")
    if upload is None:
        raise APIError(400, "missing_file", "Send the file in the multipart field 'file'.")
    storage = current_app.extensions["storage"]
    limit_mb = -(-dataset.size_bytes // MB)  # the declared size, rounded up to whole MB, is the limit
    intake = receive_upload(upload.stream, dataset.filename, storage.scratch_dir(), limit_mb)
    try:
        if intake.size > dataset.size_bytes:
            raise APIError(413, "too_large", f"The file is larger than the {dataset.size_bytes} bytes reserved.",
                           {"reserved_bytes": dataset.size_bytes})
        storage.put_file(dataset.raw_key, intake.tmp_path)
        return intake.size
    finally:
        intake.discard()


def complete_upload(dataset: Dataset) -> bool:
    """Check the stored object as an upload is checked (size, type, shape within limits, streamed from storage
    to scratch, never loaded whole) and queue the dataset. A refusal removes the reservation and its file."""
    _awaiting(dataset)
    config, storage = current_app.config, current_app.extensions["storage"]
    if not storage.exists(dataset.raw_key):
        raise APIError(409, "not_uploaded", "No file has been uploaded with this reservation's form yet.")
    try:
        size = storage.size(dataset.raw_key)
        if size > dataset.size_bytes:
            raise APIError(413, "too_large", f"The file is larger than the {dataset.size_bytes} bytes reserved.",
                           {"reserved_bytes": dataset.size_bytes})
        with storage.local_path(dataset.raw_key) as path:
            info = validate(Intake(tmp_path=path, filename=dataset.filename, size=size), config["MAX_ROWS"],
                            config["MAX_COLUMNS"])
        check_columns(info, dataset.target, (dataset.options or {}).get("roles") or {})
    except APIError:
        discard_reservation(dataset)
        raise
    dataset.file_format, dataset.encoding, dataset.delimiter = info.format, info.encoding, info.delimiter
    dataset.rows, dataset.columns, dataset.size_bytes = info.rows, info.columns, size
    dataset.status, dataset.progress_info, dataset.upload_secret = Status.QUEUED.value, "Waiting for a worker.", None
    db.session.commit()
    return enqueue(dataset, "uploaded directly")


def _awaiting(dataset: Dataset) -> None:
    if dataset.status != Status.AWAITING_FILE.value:
        raise APIError(409, "not_awaiting_file", f"The dataset is {dataset.status}: its upload was completed.",
                       {"status": dataset.status})
    if utcnow() > expires_at(dataset):
        discard_reservation(dataset)
        raise APIError(410, "expired", "The upload reservation expired; ask for a new upload URL.")


def expires_at(dataset: Dataset):
    """When a reservation's form stops being valid."""
    return as_utc(dataset.created_at) + timedelta(seconds=current_app.config["UPLOAD_URL_SECONDS"])


def discard_reservation(dataset: Dataset) -> None:
    """Leave nothing behind: the object, the dataset and its run; the quota use given back."""
    current_app.extensions["storage"].delete_prefix(dataset_folder(dataset.id))
    ModeUsage.query.filter_by(dataset_id=dataset.id).delete()
    Run.query.filter_by(dataset_id=dataset.id).delete()
    db.session.delete(dataset)
    db.session.commit()


def expire_reservations(grace_seconds: int = 300) -> list[str]:
    """Reservations whose form expired (plus a grace for a POST still arriving) and were never completed."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["UPLOAD_URL_SECONDS"] + grace_seconds)
    stale = Dataset.query.filter(Dataset.status == Status.AWAITING_FILE.value, Dataset.created_at < cutoff).all()
    gone = [dataset.id for dataset in stale]
    for dataset in stale:
        discard_reservation(dataset)
    if gone:
        log.info("expired %d upload reservation(s): %s", len(gone), ", ".join(gone))
    return gone
