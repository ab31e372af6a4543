"""Live progress: a dataset's events as Server-Sent Events, resumable with Last-Event-ID, bounded per process."""
from __future__ import annotations

import json
import threading
import time

from flask import Blueprint, Response, current_app, request
from redis import Redis
from redis.exceptions import RedisError

from jobs.events import EVENT_ID, FIELDS, latest_id, read_after

from ..auth import load_visible_dataset
from ..errors import APIError
from ..models import FINAL_STATUSES
from . import schemas as s
from .openapi import NOT_FOUND, documented

bp = Blueprint("events", __name__)


def _slot(app) -> threading.BoundedSemaphore:
    """The streams this process serves at once."""
    if "event_slots" not in app.extensions:
        app.extensions["event_slots"] = threading.BoundedSemaphore(app.config["EVENTS_MAX_STREAMS"])
    return app.extensions["event_slots"]


def _redis(app) -> Redis:
    """A client whose socket waits longer than a heartbeat: the app's own gives up after 10 s."""
    if "redis_events" not in app.extensions:
        app.extensions["redis_events"] = Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2,
            socket_timeout=app.config["EVENTS_HEARTBEAT_SECONDS"] + 10)
    return app.extensions["redis_events"]


def _event(event_id: str, data: dict) -> str:
    return f"id: {event_id}\nevent: progress\ndata: {json.dumps(data, default=str)}\n\n"


@bp.get("/dataset/<dataset:dataset_id>/events")
@documented("datasets", {200: (None, "text/event-stream: `progress` events {status, stage, progress, "
                                     "progress_info, run}, a `: heartbeat` comment every 15 s")},
            {404: NOT_FOUND, 503: "too_many_streams: this web process serves its most live streams at once "
                                  "(retry after Retry-After, or poll /status); unavailable: Redis is down"},
            files={"200": ["text/event-stream"]}, query=s.Who)
def events(dataset_id: str):
    """Progress as Server-Sent Events: the current state first, then each change until the run ends.

    Reconnecting with `Last-Event-ID` (an EventSource does it by itself) resumes after that event. A stream
    ends when the dataset reaches completed, failed or cancelled, or after EVENTS_MAX_SECONDS (the client
    reconnects and resumes)."""
    dataset = load_visible_dataset(dataset_id)
    app = current_app._get_current_object()
    config, connection = app.config, _redis(app)
    given = request.headers.get("Last-Event-ID", "").strip()
    resume = given if EVENT_ID.fullmatch(given) else None
    state = {name: getattr(dataset, name) for name in FIELDS}
    try:
        start = resume or latest_id(connection, dataset.id)
    except RedisError as exc:
        raise APIError(503, "unavailable", "Live events need Redis, which is unavailable; poll /status.") from exc
    slot = _slot(app)
    if not slot.acquire(blocking=False):
        raise APIError(503, "too_many_streams", "This web process serves its most live streams; poll the "
                       "status or retry shortly.", {"max_streams": config["EVENTS_MAX_STREAMS"]},
                       headers={"Retry-After": "5"})

    key, final = dataset.id, state["status"] in FINAL_STATUSES

    def stream():
        yield "retry: 2000\n\n"  # reconnect quickly after the stream's bounded lifetime ends
        if resume is None:  # a new reader gets the current state at once
            yield _event(start, state)
            if final:
                return
        cursor, heartbeat = start, config["EVENTS_HEARTBEAT_SECONDS"]
        ends = time.monotonic() + config["EVENTS_MAX_SECONDS"]
        while (left := ends - time.monotonic()) > 0:
            try:
                found = read_after(connection, key, cursor, 1 if final else max(1, int(min(heartbeat, left) * 1000)))
            except RedisError:
                return  # the client reconnects with its Last-Event-ID once Redis is back
            if not found and final:  # resumed after the end: nothing more will come
                return
            if not found:
                yield ": heartbeat\n\n"  # routers close streams that stay silent (Heroku: 55 s)
            for cursor, data in found:
                yield _event(cursor, data)
                if data.get("status") in FINAL_STATUSES:
                    return

    response = Response(stream(), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(slot.release)  # when the server is done with it, even if never read
    return response
