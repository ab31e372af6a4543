"""What an operator sees after a fault: /metrics without Redis, workers visible again after Redis lost them,
an upload that could not be queued saying so."""
from __future__ import annotations


from rq import Worker

from app import create_app
from app.config import shown_url
from jobs.worker import WranglerWorker
from tests.conftest import make_config, upload

DOWN = "redis://127.0.0.1:1/0"  # nothing listens there


def test_metrics_degrade_when_redis_is_down(app, db, settings):
    down = create_app(make_config(settings, app.config["STORAGE_DIR"], REDIS_URL=DOWN))
    response = down.test_client().get("/metrics")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "wrangler_redis_up 0.0" in text and 'wrangler_datasets{status="queued"}' in text
    assert "wrangler_queue_depth" not in text  # missing, not reported as zero


def test_metrics_say_redis_is_up(client):
    assert "wrangler_redis_up 1.0" in client.get("/metrics").get_data(as_text=True)


def test_a_worker_registers_again_once_redis_forgot_it(app, redis_conn):
    worker = WranglerWorker(["eda_fast"], connection=redis_conn, name="forgotten-1")
    worker.register_birth()
    assert [w.name for w in Worker.all(connection=redis_conn)] == ["forgotten-1"]
    redis_conn.flushdb()  # Redis restarted with nothing kept
    worker.heartbeat()
    assert [w.name for w in Worker.all(connection=redis_conn)] == ["forgotten-1"]
    assert Worker.find_by_key(worker.key, connection=redis_conn).queue_names() == ["eda_fast"]
    worker.register_death()


def test_an_upload_redis_could_not_queue_says_so(app, db, settings):
    down = create_app(make_config(settings, app.config["STORAGE_DIR"], REDIS_URL=DOWN))
    client = down.test_client()
    body = upload(client, b"a,b\n1,2\n").json
    assert body["enqueued"] is False
    status = client.get(f"/dataset/{body['dataset_id']}/status").json
    assert status["status"] == "queued" and "queue (Redis) is unreachable" in status["progress_info"]


def test_shown_urls_hide_passwords():
    assert shown_url("redis://:hunter2@cache:6379/0") == "redis://:***@cache:6379/0"
    assert shown_url("redis://user:p@ss@cache/1") == "redis://user:***@cache/1"
    assert shown_url("redis://cache:6379/0") == "redis://cache:6379/0"
