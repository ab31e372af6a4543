"""Completion webhooks through a real burst worker to a receiver on loopback: signed, retried, guarded."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rq import SimpleWorker

import jobs.webhooks
from app import create_app
from app.tokens import create_token
from jobs.queues import QUEUE_NAMES, WEBHOOK_QUEUE
from jobs.webhooks import verify
from tests.conftest import make_config, upload
from tests.integration.conftest import upload_orders

SECRET = "s3cret-for-tests"


class Receiver:
    """An HTTP server on 127.0.0.1 answering POSTs with the next status of `answers` (then 200)."""

    def __init__(self, answers=()):
        self.answers, self.received = list(answers), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                self.send_response(outer.answers.pop(0) if outer.answers else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    made = []

    def make(*answers) -> Receiver:
        made.append(Receiver(answers))
        return made[-1]
    yield make
    for r in made:
        r.close()


@pytest.fixture()
def hooks(app, monkeypatch):
    monkeypatch.setitem(app.config, "ALLOW_PRIVATE_URLS", True)  # the receiver is on loopback
    monkeypatch.setitem(app.config, "WEBHOOK_SECRET", SECRET)
    monkeypatch.setattr(jobs.webhooks, "WEBHOOK_RETRIES", (0, 0))  # retry at once, not after 10 s


def work(app, redis_conn) -> None:
    """Every queued job, dataset and webhook alike, as a worker would (webhooks last)."""
    with app.app_context():
        SimpleWorker([*QUEUE_NAMES, WEBHOOK_QUEUE], connection=redis_conn).work(burst=True)


def test_completion_is_delivered_signed_and_retried_after_a_500(client, app, redis_conn, hooks, receiver):
    hook = receiver(500)
    body = upload_orders(client, callback_url=hook.url).json
    work(app, redis_conn)
    assert len(hook.received) == 2  # the 500, then the retry that got 200
    for headers, raw in hook.received:
        assert verify(SECRET, headers["X-Wrangler-Signature"], raw)
        assert not verify("another-secret", headers["X-Wrangler-Signature"], raw)
        assert not verify(SECRET, headers["X-Wrangler-Signature"], raw + b" ")  # tampered body
    event = json.loads(hook.received[-1][1])
    assert event["type"] == "dataset.completed" and event["dataset_id"] == body["dataset_id"]
    assert event["links"]["cleaned"].endswith(f"/dataset/{body['dataset_id']}/cleaned")
    assert event["timings"]["started_at"] and event["run"] == 1
    assert len({h["X-Wrangler-Delivery"] for h, _ in hook.received}) == 1  # one event, delivered twice
    run = client.get(f"/dataset/{body['dataset_id']}/runs").json["runs"][0]
    assert [(d["attempt"], d["status_code"], d["outcome"]) for d in run["deliveries"]] == [
        (1, 500, "retrying"), (2, 200, "delivered")]


def test_an_old_signature_is_refused_by_the_receiver_check():
    from jobs.webhooks import sign
    header = sign(SECRET, 1_000_000, b"{}")
    assert verify(SECRET, header, b"{}", now=1_000_100) and not verify(SECRET, header, b"{}", now=1_000_400)


def test_a_cancel_is_announced_and_a_reprocess_keeps_the_webhook(client, app, redis_conn, hooks, receiver):
    hook = receiver()
    dataset_id = upload_orders(client, callback_url=hook.url).json["dataset_id"]
    client.post(f"/dataset/{dataset_id}/cancel")
    work(app, redis_conn)
    assert client.post(f"/dataset/{dataset_id}/reprocess").status_code == 202
    work(app, redis_conn)
    assert [(json.loads(b)["type"], json.loads(b)["run"]) for _h, b in hook.received] == [
        ("dataset.cancelled", 1), ("dataset.completed", 2)]


def test_private_addresses_are_refused_at_intake_and_at_delivery(client, app, redis_conn, monkeypatch, receiver):
    monkeypatch.setitem(app.config, "WEBHOOK_SECRET", SECRET)
    hook = receiver()
    refused = upload_orders(client, callback_url=hook.url)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "forbidden_url"
    monkeypatch.setitem(app.config, "ALLOW_PRIVATE_URLS", True)
    monkeypatch.setattr(jobs.webhooks, "WEBHOOK_RETRIES", (0,))
    dataset_id = upload_orders(client, callback_url=hook.url).json["dataset_id"]
    monkeypatch.setitem(app.config, "ALLOW_PRIVATE_URLS", False)  # as when its name rebinds to a private address
    work(app, redis_conn)
    assert hook.received == []
    deliveries = client.get(f"/dataset/{dataset_id}/runs").json["runs"][0]["deliveries"]
    assert [d["outcome"] for d in deliveries] == ["retrying", "failed"]
    assert all(d["error"].startswith("forbidden_url") for d in deliveries)


def test_a_callback_needs_a_signing_secret(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "ALLOW_PRIVATE_URLS", True)
    response = upload_orders(client, callback_url="http://127.0.0.1:9/hook")
    assert response.status_code == 400 and response.json["error"]["code"] == "webhook_unsigned"


def test_a_token_default_callback_is_signed_with_the_tokens_secret(settings, db, redis_conn, tmp_path, receiver,
                                                                    monkeypatch):
    monkeypatch.setattr(jobs.webhooks, "WEBHOOK_RETRIES", (0,))
    token_app = create_app(make_config(settings, tmp_path, AUTH_MODE="token", ALLOW_PRIVATE_URLS=True))
    hook = receiver()
    row, token = create_token("hooked", callback_url=hook.url)
    client = token_app.test_client()
    response = upload(client, b"a,b\n1,2\n3,4\n", "t.csv", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.json
    work(token_app, redis_conn)
    (headers, raw), = hook.received
    assert verify(row.webhook_secret, headers["X-Wrangler-Signature"], raw)
    assert json.loads(raw)["status"] == "completed"
