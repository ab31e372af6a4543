"""The webhook delivery job (queue `webhooks`): POST a run's event, signed, through the SSRF guard; record it."""
from __future__ import annotations

import json
import logging
import time

import requests
from flask import current_app
from rq import get_current_job

from app.errors import APIError
from app.extensions import db
from app.ingest import guarded_session
from app.models import ApiToken, Dataset, Run, utcnow
from app.views import links

from . import webhooks
from .context import app_context

log = logging.getLogger(__name__)


def deliver(dataset_id: str, run_number: int, event: dict) -> dict:
    """The job: POST the event; any answer but 2xx (or no answer) raises, so RQ retries it with backoff."""
    with app_context():
        run = Run.query.filter_by(dataset_id=dataset_id, number=run_number).one_or_none()
        if run is None:  # the dataset was deleted since: nobody to tell
            return {"delivered": False, "reason": "dataset deleted"}
        config = current_app.config
        secret = _secret(run, config)
        dataset = db.session.get(Dataset, dataset_id)
        event = {**event, "links": _links(dataset)}
        body = json.dumps(event, separators=(",", ":")).encode()
        job = get_current_job()
        headers = {"Content-Type": "application/json", "User-Agent": "Wrangler-Webhook/1",
                   "X-Wrangler-Event": event["type"], "X-Wrangler-Delivery": event["id"]}
        if secret:
            headers["X-Wrangler-Signature"] = webhooks.sign(secret, int(time.time()), body)
        earlier = [d for d in run.deliveries or [] if d.get("delivery") == event["id"]]
        record = {"delivery": event["id"], "event": event["type"], "attempt": len(earlier) + 1,
                  "at": utcnow().isoformat(), "status_code": None, "error": None}
        try:
            with guarded_session(config["ALLOW_PRIVATE_URLS"]) as session:
                response = session.post(run.callback_url, data=body, headers=headers,
                                        timeout=config["WEBHOOK_TIMEOUT"], allow_redirects=False)
            record["status_code"] = response.status_code
            failure = None if 200 <= response.status_code < 300 else f"the receiver answered HTTP {response.status_code}"
        except APIError as exc:  # the guard: the URL's host resolved to a private address
            failure = f"{exc.code}: {exc.message}"
        except requests.RequestException as exc:
            failure = f"{type(exc).__name__}: {str(exc)[:300]}"
        retrying = failure is not None and job is not None and (job.retries_left or 0) > 0
        record.update(error=failure, outcome="delivered" if failure is None else "retrying" if retrying else "failed")
        run.deliveries = [*(run.deliveries or []), record]
        db.session.commit()
    if failure is not None:
        log.warning("webhook %s for dataset %s: %s (%s)", event["id"], dataset_id, failure, record["outcome"])
        raise DeliveryFailed(failure)
    return {"delivered": True, "status_code": record["status_code"]}


class DeliveryFailed(RuntimeError):
    """The receiver did not take the event; RQ retries the job."""


def _secret(run: Run, config) -> str | None:
    token = db.session.get(ApiToken, run.webhook_token_id) if run.webhook_token_id else None
    return (token.webhook_secret if token is not None else None) or config["WEBHOOK_SECRET"]


def _links(dataset: Dataset) -> dict:
    """The dataset's links (paths on this API), also from a worker, which has the routes but no request."""
    with current_app.test_request_context():
        return links(dataset)
