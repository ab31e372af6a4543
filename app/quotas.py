"""Per-user quotas (smart and deep mode, stored bytes, jobs in flight), counted atomically on SQLite and PostgreSQL."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from .errors import APIError
from .extensions import db
from .models import Dataset, Mode, ModeUsage, QuotaLock, Status, utcnow

log = logging.getLogger(__name__)

QUOTA_KEYS = {Mode.SMART: "SMART_QUOTA", Mode.DEEP: "DEEP_QUOTA"}
UPLOAD_LOCK = "upload"  # the lock row's "mode" for the per-user upload checks
IN_FLIGHT = (Status.QUEUED.value, Status.PROCESSING.value)
IN_FLIGHT_RETRY_AFTER = 30  # seconds: about what a fast job takes
STORAGE_RETRY_AFTER = 3600  # seconds: space comes back only when the user deletes datasets
MB = 1024 * 1024


def _lock(user_id: str, mode: str) -> None:
    """Take the (user, mode) lock row until commit: a row lock on PostgreSQL, the write lock on SQLite."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    db.session.execute(dialect.insert(QuotaLock).values(user_id=user_id, mode=mode, touched_at=utcnow())
                       .on_conflict_do_nothing())
    db.session.execute(update(QuotaLock).where(QuotaLock.user_id == user_id, QuotaLock.mode == mode)
                       .values(touched_at=utcnow()))


def reserve_quota(user_id: str, mode: str) -> ModeUsage | None:
    """Count one use of `mode` for the user, or raise 429. Fast mode is unlimited (None)."""
    key = QUOTA_KEYS.get(mode)
    if key is None:
        return None
    config = current_app.config
    limit, window = config[key], config["QUOTA_WINDOW_HOURS"]
    try:
        _lock(user_id, mode)
        query = ModeUsage.query.filter_by(user_id=user_id, mode=mode)
        if window > 0:
            query = query.filter(ModeUsage.created_at >= utcnow() - timedelta(hours=window))
        used = query.count()
        if used >= limit:
            db.session.rollback()
            span = f"in {window} h" if window > 0 else "in total"
            settings = f"{key}={limit}" + (f", QUOTA_WINDOW_HOURS={window}" if window > 0 else "")
            raise APIError(429, "quota_exceeded",
                           f"{mode} mode is limited to {limit} datasets per user {span} ({settings}); "
                           f"the operator raises it with {key}"
                           + (" or shortens the window with QUOTA_WINDOW_HOURS." if window > 0 else "."),
                           {"mode": mode, "limit": limit, "used": used, "window_hours": window, "setting": key,
                            **({"window_setting": "QUOTA_WINDOW_HOURS"} if window > 0 else {})})
        usage = ModeUsage(user_id=user_id, mode=mode)
        db.session.add(usage)
        db.session.commit()
        return usage
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise APIError(503, "database_unavailable", "The database is unavailable.") from exc


def release_quota(usage: ModeUsage | None) -> None:
    """Give back a reservation whose upload was rejected, so bad input does not cost quota; also
    ends the transaction, releasing the user's upload lock."""
    try:
        db.session.rollback()
        if usage is None:
            return
        db.session.delete(db.session.merge(usage))
        db.session.commit()
    except SQLAlchemyError:
        # The upload is refused either way; a reservation left behind only costs the user quota until the window
        # ends, so this is logged and not raised over the refusal's own error.
        log.warning("giving back the quota reservation of a refused upload failed", exc_info=True)
        db.session.rollback()


def check_user_load(user_id: str, incoming_bytes: int, *, lock: bool = True) -> None:
    """429 when the user already has MAX_JOBS_IN_FLIGHT datasets queued or processing, or when
    `incoming_bytes` more would take the originals it keeps past USER_STORAGE_MB.

    With `lock` the user's upload lock row stays held until the caller commits (submit_dataset
    recording the dataset), so concurrent uploads of one user count each other. Without it this is
    a cheap early refusal that ends its read-only transaction (no connection held during intake).
    """
    config = current_app.config
    cap, quota_mb = config["MAX_JOBS_IN_FLIGHT"], config["USER_STORAGE_MB"]
    if cap <= 0 and quota_mb <= 0:
        return
    try:
        if lock:
            _lock(user_id, UPLOAD_LOCK)
        in_flight, stored = db.session.query(
            func.count(Dataset.id).filter(Dataset.status.in_(IN_FLIGHT)),
            func.coalesce(func.sum(Dataset.size_bytes).filter(Dataset.raw_purged_at.is_(None)), 0),
        ).filter(Dataset.user_id == user_id).one()
        stored = int(stored)  # PostgreSQL's SUM of a bigint is a Decimal
        if not lock:
            db.session.rollback()
    except SQLAlchemyError as exc:
        db.session.rollback()
        raise APIError(503, "database_unavailable", "The database is unavailable.") from exc
    if cap > 0 and in_flight >= cap:
        db.session.rollback()
        raise APIError(429, "too_many_jobs",
                       f"{in_flight} of your datasets are queued or processing; at most {cap} may be "
                       f"(MAX_JOBS_IN_FLIGHT={cap}). Retry once one has finished; the operator raises it "
                       "with MAX_JOBS_IN_FLIGHT.",
                       {"setting": "MAX_JOBS_IN_FLIGHT", "limit": cap, "in_flight": in_flight,
                        "retry_after": IN_FLIGHT_RETRY_AFTER},
                       headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER)})
    if quota_mb > 0 and stored + incoming_bytes > quota_mb * MB:
        db.session.rollback()
        raise APIError(429, "storage_quota_exceeded",
                       f"Your stored files take {stored / MB:.1f} MB; this upload of {incoming_bytes / MB:.1f} MB "
                       f"would pass USER_STORAGE_MB={quota_mb}. Delete datasets you no longer need "
                       "(DELETE /dataset/<id>) and retry; the operator raises it with USER_STORAGE_MB.",
                       {"setting": "USER_STORAGE_MB", "limit_mb": quota_mb, "used_bytes": stored,
                        "upload_bytes": incoming_bytes, "retry_after": STORAGE_RETRY_AFTER},
                       headers={"Retry-After": str(STORAGE_RETRY_AFTER)})
