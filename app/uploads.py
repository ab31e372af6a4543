"""The upload intake: validate the request, reserve quota, take in the file or URL, record and enqueue it."""
from __future__ import annotations

from flask import current_app, request

from .auth import owner_for_upload, request_value
from .errors import APIError
from .ingest import check_columns, check_url, receive_upload, validate
from .limits import check_upload_rate
from .models import Dataset, Mode
from .options import read_options
from .quotas import check_user_load, release_quota, reserve_quota
from .services import submit_dataset, submit_url

MODES = tuple(m.value for m in Mode)


def accept_upload() -> tuple[Dataset, bool]:
    """Validate the request, reserve quota, take in the file or URL, record and enqueue it."""
    config = current_app.config
    mode = (request_value("mode") or "fast").strip().lower()
    if mode not in MODES:
        raise APIError(400, "invalid_mode", f"mode must be one of {', '.join(MODES)}; got {mode!r}.")
    user_id, collaboration_id = owner_for_upload()
    check_upload_rate(user_id)  # 429 rate_limited, counted per user in Redis
    target = (request_value("target") or "").strip() or None
    options = read_options()  # 400 for a bad option, before anything is stored
    upload_file = request.files.get("file")
    if upload_file is not None and not upload_file.filename:
        upload_file = None  # an HTML form's empty file input
    url = (request_value("dataset_url") or "").strip()
    if upload_file is not None and url:
        raise APIError(400, "bad_request", "Send either a file or a dataset_url, not both.")
    if upload_file is None and not url:
        raise APIError(400, "missing_file", "Send a multipart 'file' field or a 'dataset_url'.")

    check_user_load(user_id, 0, lock=False)  # early 429: jobs in flight or storage already full
    usage = reserve_quota(user_id, mode)  # 429 before anything is stored
    scratch = current_app.extensions["storage"].scratch_dir()
    intake = None
    try:
        if upload_file is not None:
            intake = receive_upload(upload_file.stream, upload_file.filename, scratch, config["MAX_UPLOAD_MB"])
        else:  # checked here, downloaded by a worker (jobs.fetch): no request waits on a remote server
            check_url(url, config["ALLOW_PRIVATE_URLS"])  # scheme, host and every address it resolves to
            check_user_load(user_id, 0)  # its size counts once the worker has stored the file
            return submit_url(url, user_id=user_id, collaboration_id=collaboration_id, mode=mode,
                              target=target, options=options, usage=usage)
        info = validate(intake, config["MAX_ROWS"], config["MAX_COLUMNS"])
        check_columns(info, target, options["roles"])
        check_user_load(user_id, intake.size)  # again with the exact size, locked until the row is committed
        return submit_dataset(intake, user_id=user_id, collaboration_id=collaboration_id, mode=mode,
                              target=target, options=options, usage=usage)
    except BaseException:
        release_quota(usage)
        raise
    finally:
        if intake is not None:
            intake.discard()
