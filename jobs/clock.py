"""Time as the service keeps it (UTC, aware) and writes it (ISO 8601 with a Z): shared by the web, workers and the
Redis-only monitor and autoscaler, so it imports nothing of ours and no web framework."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns: they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def iso(value: datetime | None) -> str | None:
    """A timestamp as the API writes it: ISO 8601 in UTC with a Z."""
    if value is None:
        return None
    return as_utc(value).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
