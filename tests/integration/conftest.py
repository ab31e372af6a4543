"""Integration fixtures shared by modules: S3 through moto's server on loopback, and the app on it; tokens;
the orders table the mode tests upload and the plan tests' feed."""
from __future__ import annotations

import os
import socket

import boto3
import numpy as np
import pandas as pd
import pytest
from moto.server import ThreadedMotoServer

from app import create_app
from tests.conftest import make_config, upload
from tests.fakes.gemini import FakeGemini

BUCKET = "wrangler-test"


@pytest.fixture(scope="module")
def s3_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield url
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture()
def raw_s3(s3_url):
    client = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])


def keys(client) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


@pytest.fixture()
def s3_app(settings, s3_url, raw_s3, db, tmp_path):
    def build(**values):
        return create_app(make_config(settings, tmp_path, STORAGE_BACKEND="s3", S3_BUCKET=BUCKET, S3_PREFIX="w",
                                      S3_ENDPOINT_URL=s3_url, AWS_REGION="us-east-1", **values))
    return build


def run_jobs(application, redis_conn) -> None:
    from rq import SimpleWorker

    from jobs.queues import QUEUE_NAMES
    with application.app_context():
        SimpleWorker(list(QUEUE_NAMES), connection=redis_conn).work(burst=True)


@pytest.fixture()
def gemini(app, monkeypatch):
    """The advisor on a loopback fake, through the real google-genai client."""
    fake = FakeGemini()
    for key, value in {"GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": fake.url, "GEMINI_TIMEOUT": 5}.items():
        monkeypatch.setitem(app.config, key, value)  # put back as they were, whatever they were
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def token_app(settings, app, tmp_path_factory):
    return create_app(make_config(settings, tmp_path_factory.mktemp("token-storage"), AUTH_MODE="token",
                                  SMART_QUOTA=1))


@pytest.fixture()
def tc(token_app, db):
    with token_app.app_context():
        yield token_app.test_client()


def make_token(token_app, user: str, *collabs: str, operator: bool = False) -> str:
    args = ["tokens", "create", user, *[a for c in collabs for a in ("--collaboration", c)],
            *(["--operator"] if operator else [])]
    result = token_app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1].split()[-1]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def orders_csv(n: int = 120, seed: int = 2) -> bytes:
    """Orders with prices as text that track x (about 30% "?"), city spellings, gaps, day-first dates."""
    rng = np.random.default_rng(seed)
    x = rng.normal(100, 15, n).round(1)
    frame = pd.DataFrame({"order_id": range(1, n + 1), "x": x, "price": [f"${v:,.2f}" for v in 3 * x + 7],
                          "city": rng.choice(["Oslo", "oslo ", "Rome"], n), "sold": rng.choice(["yes", "no"], n),
                          "when": pd.date_range("2024-01-01", periods=n).strftime("%d/%m/%Y")})
    frame = frame.astype(object)
    frame.loc[rng.random(n) < 0.3, "price"] = "?"
    frame.loc[rng.random(n) < 0.15, "city"] = ""
    return frame.to_csv(index=False).encode()


def upload_orders(client, data: bytes | None = None, **fields):
    """`upload` as orders.csv: `orders_csv()` unless `data` is given."""
    return upload(client, data or orders_csv(), "orders.csv", **fields)


# The plan tests' feed: batches uploaded as orders.csv by the user "feed", read back as that user.
FEED = "feed"


def csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def upload_feed(client, data: bytes, **fields):
    """`upload` as orders.csv by the feed (`user_id` in `fields` says otherwise)."""
    return upload(client, data, "orders.csv", **{"user_id": FEED, **fields})


def get(client, path: str):
    """GET `path` as the feed."""
    return client.get(path + ("&" if "?" in path else "?") + f"user_id={FEED}")


def cleaned(client, run_worker, data: bytes, **fields) -> tuple[str, dict]:
    """Upload a batch as the feed (202 or the test fails), run the worker; the dataset id and its status."""
    response = upload_feed(client, data, **fields)
    assert response.status_code == 202, response.json
    run_worker()
    dataset_id = response.json["dataset_id"]
    return dataset_id, get(client, f"/dataset/{dataset_id}/status").json
