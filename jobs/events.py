"""A dataset's progress events in a Redis stream: the worker and the web append, SSE readers follow and resume.

A stream rather than plain pub/sub: an EventSource that reconnects sends Last-Event-ID and gets what it missed
from the stream (pub/sub delivers only to whoever listens at that moment)."""
from __future__ import annotations

import json
import logging
import re

from redis import Redis
from redis.exceptions import RedisError

from jobs.keys import EVENTS_KEY

log = logging.getLogger(__name__)
KEEP = 500  # events a stream keeps (about: trimmed approximately); a job writes at most two a second
TTL = 24 * 3600  # a dataset's stream outlives its job by a day, then goes
EVENT_ID = re.compile(r"\d{1,20}-\d{1,20}")
FIELDS = ("status", "stage", "progress", "progress_info", "run")


def publish(connection: Redis, dataset_id: str, **event) -> str | None:
    """Append an event; progress must never fail a job or a request, so a Redis error is only logged."""
    key = EVENTS_KEY.format(dataset_id=dataset_id)
    try:
        pipe = connection.pipeline(transaction=False)
        pipe.xadd(key, {"data": json.dumps(event, default=str)}, maxlen=KEEP, approximate=True)
        pipe.expire(key, TTL)
        added, _ = pipe.execute()
    except RedisError as exc:
        log.debug("event for dataset %s not published: %s", dataset_id, exc)
        return None
    return _text(added)


def publish_state(connection: Redis, dataset) -> str | None:
    """The dataset row's progress fields as one event."""
    return publish(connection, dataset.id, **{name: getattr(dataset, name) for name in FIELDS})


def latest_id(connection: Redis, dataset_id: str) -> str:
    """The id of the newest event ("0-0" when there is none): where a new reader starts."""
    found = connection.xrevrange(EVENTS_KEY.format(dataset_id=dataset_id), count=1)
    return _text(found[0][0]) if found else "0-0"


def read_after(connection: Redis, dataset_id: str, after: str, block_ms: int) -> list[tuple[str, dict]]:
    """Events after `after`, waiting up to `block_ms` for the first; [] when none came."""
    answer = connection.xread({EVENTS_KEY.format(dataset_id=dataset_id): after}, count=100, block=block_ms)
    return [(_text(event_id), json.loads(fields[b"data"])) for _key, entries in answer or []
            for event_id, fields in entries]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
