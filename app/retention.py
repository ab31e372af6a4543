"""Retention: remove original uploads of finished datasets after RAW_RETENTION_DAYS (cleaned data stays)."""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from jobs.keys import RETENTION_KEY

from .extensions import db
from .models import Dataset, Status, utcnow
from .storage import StorageError

log = logging.getLogger(__name__)


def purge_raw_files(days: int, limit: int = 500) -> list[str]:
    """Delete raw files of completed or failed datasets finished more than `days` days ago."""
    if days <= 0:
        return []
    cutoff = utcnow() - timedelta(days=days)
    rows = (Dataset.query
            .filter(Dataset.status.in_([Status.COMPLETED.value, Status.FAILED.value]),
                    Dataset.raw_purged_at.is_(None), Dataset.updated_at < cutoff)
            .order_by(Dataset.updated_at).limit(limit).all())
    storage, purged = current_app.extensions["storage"], []
    for dataset in rows:
        try:
            storage.delete(dataset.raw_key)
        except StorageError as exc:
            log.warning("retention could not delete %s: %s", dataset.raw_key, exc)
            continue
        dataset.raw_purged_at = utcnow()
        purged.append(dataset.id)
    db.session.commit()
    return purged


def purge_if_due(connection: Redis, days: int, every_seconds: int = 3600) -> list[str]:
    """Run the purge at most once per `every_seconds` across all processes that call this."""
    if days <= 0:
        return []
    try:
        if not connection.set(RETENTION_KEY, "1", nx=True, ex=every_seconds):
            return []
    except RedisError:
        log.warning("retention skipped: Redis did not answer the once-an-hour lock", exc_info=True)
        return []
    purged = purge_raw_files(days)
    if purged:
        log.info("retention removed %d raw file(s) older than %d days", len(purged), days)
    return purged
