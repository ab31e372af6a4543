"""Per-user quotas for smart and deep mode, counted atomically on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from .errors import APIError
from .extensions import db
from .models import ModeUsage, QuotaLock, utcnow

QUOTA_KEYS = {"smart": "SMART_QUOTA", "deep": "DEEP_QUOTA"}


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
    """Give back a reservation whose upload was rejected, so bad input does not cost quota."""
    if usage is None:
        return
    try:
        db.session.rollback()
        db.session.delete(db.session.merge(usage))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
