"""Completion webhooks: when a run ends, a job on its own queue (jobs.delivery) POSTs a signed JSON event to
its callback_url.

The signature is HMAC-SHA256 over "<timestamp>.<body>" with the token's webhook secret (else WEBHOOK_SECRET),
sent as `X-Wrangler-Signature: t=<timestamp>,v1=<hex>`: a receiver recomputes it and refuses old timestamps
(replay). Deliveries go through the URL intake's SSRF guard, follow no redirect, and are retried with backoff."""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid

from redis import Redis
from redis.exceptions import RedisError

from rq import Retry

from app.models import Dataset, Run, iso, utcnow

from .queues import WEBHOOK_FUNC, WEBHOOK_QUEUE, WEBHOOK_RETRIES, get_queue

log = logging.getLogger(__name__)
EVENTS = {"completed": "dataset.completed", "failed": "dataset.failed", "cancelled": "dataset.cancelled"}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300, now: float | None = None) -> bool:
    """What a receiver does (documented in the README): the signature matches and is recent."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


def announce(connection: Redis, dataset: Dataset, run: Run | None) -> None:
    """Queue the run's delivery once it has ended (completed, failed or cancelled); nothing without a URL."""
    if run is None or not run.callback_url or dataset.status not in EVENTS:
        return
    event = {"id": uuid.uuid4().hex, "type": EVENTS[dataset.status], "dataset_id": dataset.id, "run": run.number,
             "status": dataset.status, "mode": run.mode, "error": dataset.error,
             "timings": {"created_at": iso(run.created_at), "started_at": iso(run.started_at),
                         "ended_at": iso(run.ended_at or utcnow())}}
    try:
        get_queue(WEBHOOK_QUEUE, connection).enqueue(
            WEBHOOK_FUNC, dataset.id, run.number, event, job_id=f"webhook-{event['id']}", result_ttl=0,
            failure_ttl=7 * 24 * 3600, retry=Retry(max=len(WEBHOOK_RETRIES), interval=list(WEBHOOK_RETRIES)),
            description=f"{event['type']} for dataset {dataset.id} run {run.number}")
    except RedisError as exc:
        log.warning("webhook for dataset %s run %d not queued: %s", dataset.id, run.number, exc)
