"""The upload intake: validate the request, reserve quota, take in the file or URL, record and enqueue it."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request

from .auth import owner_for_upload, principal, request_value
from .errors import APIError
from .extensions import db
from .ingest import check_columns, check_url, receive_upload, validate
from .limits import check_upload_rate
from .models import MODES, ApiToken, Dataset, Mode
from .options import read_options
from .plans import plan_options
from .quotas import check_user_load, release_quota, reserve_quota
from .services import submit_dataset, submit_url



@dataclass(frozen=True)
class Settings:
    """What an upload request asks for, checked (400/403/429) before anything is stored."""
    mode: str
    user_id: str
    collaboration_id: str | None
    target: str | None
    options: dict
    webhook: tuple[str | None, int | None]

    def record(self) -> dict:
        """The keywords services.submit_* take."""
        return {"user_id": self.user_id, "collaboration_id": self.collaboration_id, "mode": self.mode,
                "target": self.target, "options": self.options, "webhook": self.webhook}


def read_settings() -> Settings:
    mode = (request_value("mode") or Mode.FAST).strip().lower()
    if mode not in MODES:
        raise APIError(400, "invalid_mode", f"mode must be one of {', '.join(MODES)}; got {mode!r}.")
    user_id, collaboration_id = owner_for_upload()
    check_upload_rate(user_id)  # 429 rate_limited, counted per user in Redis
    target = (request_value("target") or "").strip() or None
    options = read_options()  # 400 for a bad option, before anything is stored
    options, target = plan_options(options, target)  # 400/404/413/422 for a plan that cannot be applied
    return Settings(mode, user_id, collaboration_id, target, options, read_webhook())


def accept_upload() -> tuple[Dataset, bool]:
    """Validate the request, reserve quota, take in the file or URL, record and enqueue it."""
    config = current_app.config
    settings = read_settings()
    user_id, mode, target, options = settings.user_id, settings.mode, settings.target, settings.options
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
            return submit_url(url, usage=usage, **settings.record())
        info = validate(intake, config["MAX_ROWS"], config["MAX_COLUMNS"])
        check_columns(info, target, options["roles"])
        check_user_load(user_id, intake.size)  # again with the exact size, locked until the row is committed
        return submit_dataset(intake, usage=usage, **settings.record())
    except BaseException:
        release_quota(usage)
        raise
    finally:
        if intake is not None:
            intake.discard()


def read_webhook(previous: tuple[str | None, int | None] = (None, None)) -> tuple[str | None, int | None]:
    """The run's callback_url (the request's, else `previous` — a reprocess keeps its dataset's — else the
    token's default) and the token whose secret signs it (None: WEBHOOK_SECRET). Checked like a dataset_url:
    http(s), a public address."""
    given = (request_value("callback_url") or "").strip()
    if not given and previous[0]:
        return previous
    who = principal()
    token = db.session.get(ApiToken, who.token_id) if who is not None and who.token_id else None
    url = given or (token.callback_url if token is not None else None)
    if not url:
        return None, None
    check_url(url, current_app.config["ALLOW_PRIVATE_URLS"])  # 400 invalid_url / forbidden_url
    signer = token.id if token is not None and token.webhook_secret else None
    if signer is None and not current_app.config["WEBHOOK_SECRET"]:
        raise APIError(400, "webhook_unsigned", "A callback_url needs a secret to sign its events: the operator "
                       "sets WEBHOOK_SECRET, or creates the token with --callback-url (which makes one).",
                       {"field": "callback_url"})
    return url, signer
