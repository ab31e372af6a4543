"""The per-user upload rate limit: Flask-Limiter on the app's Redis, refusals as our JSON 429."""
from __future__ import annotations

import time

from flask import Flask, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from redis.exceptions import RedisError

from jobs.keys import PREFIX

from .auth import principal
from .errors import APIError

SETTING = "UPLOAD_RATE_LIMIT"


def _upload_key() -> str:
    return g.upload_rate_key


def init_limiter(app: Flask) -> None:
    """One Limiter per app (it keeps its storage on the instance), on the app's own REDIS_URL.

    Redis down: the limit fails open to per-process in-memory counting with a warning
    ("Rate limit storage unreachable"), like the upload itself, which is accepted and enqueued
    later; MAX_JOBS_IN_FLIGHT and USER_STORAGE_MB live in the database and still hold.
    """
    value = app.config[SETTING]
    try:
        parse_many(value) if value else None
    except ValueError as exc:
        raise ValueError(f"{SETTING} must look like '30/minute;300/hour' (or 'off'); got {value!r}") from exc
    limiter = Limiter(_upload_key, app=app, storage_uri=app.config["REDIS_URL"],
                      storage_options={"socket_connect_timeout": 2, "socket_timeout": 2},
                      strategy="moving-window", key_prefix=PREFIX, in_memory_fallback_enabled=True,
                      swallow_errors=True)
    # Shared: the API's upload and the HTML form's draw on one budget. Read per request, so an
    # empty value (UPLOAD_RATE_LIMIT=off) means no limit.
    app.extensions["upload_limit"] = limiter.shared_limit(lambda: current_app.config[SETTING], scope="upload")


def check_upload_rate(user_id: str) -> None:
    """Count one upload for the token's user (token mode) or user_id at this address (open mode);
    429 `rate_limited` with Retry-After once over UPLOAD_RATE_LIMIT."""
    limit = current_app.extensions["upload_limit"]
    g.upload_rate_key = user_id if principal() is not None else f"{user_id}@{request.remote_addr}"
    try:
        with limit:
            pass
    except RateLimitExceeded as exc:
        breached = str(exc.limit.limit)
        try:
            retry = int(limit.limiter.current_limit.reset_at - time.time())  # reset_at is rounded up
        except RedisError:  # Redis went away since the hit: the window length is a safe answer
            retry = exc.limit.limit.get_expiry()
        retry = max(1, retry)
        value = current_app.config[SETTING]
        raise APIError(429, "rate_limited",
                       f"Too many uploads: at most {breached} per user ({SETTING}={value}); retry in {retry} s. "
                       f"The operator raises it with {SETTING}.",
                       {"setting": SETTING, "limit": breached, "configured": value, "retry_after": retry},
                       headers={"Retry-After": str(retry)}) from None
