"""URL ingestion against a loopback HTTP server: checked at upload, downloaded by the worker, capped."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rq.registry import ScheduledJobRegistry

from app.errors import APIError
from app.ingest import guarded_session
from app.models import Dataset, ModeUsage
from tests.conftest import stored_files

CSV = b"a,b\n1,x\n2,y\n"


class Handler(BaseHTTPRequestHandler):
    hits: list[str] = []  # every path asked for, to show an upload alone downloads nothing
    routes = {
        "/data.csv": (200, {"Content-Type": "text/csv"}, CSV),
        "/download": (200, {"Content-Type": "text/csv; charset=utf-8"}, CSV),
        "/hop": (302, {"Location": "/data.csv"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/missing.csv": (404, {}, b"nope"),
        "/login": (200, {"Content-Type": "text/html; charset=utf-8"}, b"<html><form>sign in</form></html>"),
        "/big.csv": (200, {"Content-Type": "text/csv"}, b"a\n" + b"1\n" * 1_200_000),
        "/wide.csv": (200, {"Content-Type": "text/csv"}, b",".join(b"c%d" % i for i in range(30)) + b"\n"
                      + b",".join(b"1" for _ in range(30)) + b"\n"),
    }

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        if self.path == "/trickle.csv":  # one byte every 0.3 s: each read is quick, the whole is not
            self.send_response(200)
            self.send_header("Content-Length", "40")
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b"1")
                    self.wfile.flush()
                    time.sleep(0.3)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        status, headers, body = self.routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        return None


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture()
def url_client(app, db, monkeypatch):
    for key, value in {"ALLOW_PRIVATE_URLS": True, "MAX_UPLOAD_MB": 1, "MAX_COLUMNS": 20}.items():
        monkeypatch.setitem(app.config, key, value)  # put back as they were, whatever they were
    Handler.hits.clear()
    return app.test_client()


def status_of(client, dataset_id: str) -> dict:
    return client.get(f"/dataset/{dataset_id}/status").json


@pytest.mark.parametrize("path,name", [("/data.csv", "data"), ("/download", "download"), ("/hop", "data")])
def test_upload_answers_at_once_and_the_worker_fetches(url_client, server, app, db, run_worker, path, name):
    response = url_client.post("/dataset/upload", json={"dataset_url": server + path, "user_id": "u1"})
    assert response.status_code == 202, response.json
    body = response.json
    assert body["status"] == "queued" and (body["rows"], body["columns"]) == (0, 0) and body["enqueued"]
    assert Handler.hits == [] and stored_files(app) == []  # nothing was downloaded in the request
    assert "download" in status_of(url_client, body["dataset_id"])["progress_info"]

    assert run_worker()
    status = status_of(url_client, body["dataset_id"])
    assert status["status"] == "completed", status
    assert (status["rows"], status["columns"], status["database_name"]) == (2, 2, name)
    dataset = db.session.get(Dataset, body["dataset_id"])
    assert dataset.source_url == server + path and dataset.file_format == "csv" and dataset.size_bytes == len(CSV)
    assert url_client.get(f"/dataset/{body['dataset_id']}/raw").data == CSV


# Decided once the server answers: a redirect's target, the status, the type, the size, the shape.
@pytest.mark.parametrize("path,code,fields", [
    ("/to-metadata", "forbidden_url", {}), ("/loop", "fetch_failed", {}), ("/missing.csv", "fetch_failed", {}),
    ("/big.csv", "too_large", {}), ("/login", "unsupported_format", {}),
    ("/wide.csv", "too_many_columns", {}), ("/data.csv", "unknown_target", {"target": "nope"}),
    ("/data.csv", "unknown_column", {"roles": {"zip": "code"}}),
])
def test_refusals_at_download_fail_with_the_uploads_code(url_client, server, app, db, run_worker, redis_conn,
                                                         path, code, fields):
    response = url_client.post("/dataset/upload", json={"dataset_url": server + path, "mode": "smart", **fields})
    assert response.status_code == 202, response.json
    dataset_id = response.json["dataset_id"]
    assert ModeUsage.query.count() == 1  # smart mode: the upload reserved a use

    run_worker()
    status = status_of(url_client, dataset_id)
    assert status["status"] == "failed" and status["error"].startswith(f"{code}: "), status
    assert status["attempts"] == 1 and status["progress_info"].startswith("Failed: ")
    assert ScheduledJobRegistry("eda_fast", connection=redis_conn).get_job_ids() == []  # not retried
    assert stored_files(app) == []  # no raw file, nothing else
    assert ModeUsage.query.count() == 0  # like a refused upload, it cost no quota


def test_the_worker_checks_the_address_again(url_client, server, app, run_worker, monkeypatch):
    """What the name resolves to when the worker connects counts, not what it was at upload."""
    response = url_client.post("/dataset/upload", json={"dataset_url": server + "/data.csv"})
    monkeypatch.setitem(app.config, "ALLOW_PRIVATE_URLS", False)  # as if the name now pointed somewhere private
    run_worker()
    status = status_of(url_client, response.json["dataset_id"])
    assert status["status"] == "failed" and status["error"].startswith("forbidden_url: ")
    assert Handler.hits == [] and stored_files(app) == []


def test_a_fetched_smart_dataset_keeps_its_quota_use(url_client, server, db, run_worker):
    response = url_client.post("/dataset/upload", json={"dataset_url": server + "/data.csv", "mode": "smart"})
    run_worker()
    assert status_of(url_client, response.json["dataset_id"])["status"] == "completed"
    assert ModeUsage.query.filter_by(dataset_id=response.json["dataset_id"]).count() == 1


# Decided without a download: still refused in the request, nothing recorded.
@pytest.mark.parametrize("url,status,code", [
    ("ftp://127.0.0.1/x.csv", 400, "invalid_url"), ("http://169.254.169.254/latest/", 400, "forbidden_url"),
    ("http://[::ffff:169.254.169.254]/", 400, "forbidden_url"), ("http://0x7f.1:80000/x.csv", 400, "invalid_url"),
])
def test_refusals_without_download_stay_in_the_request(url_client, app, db, url, status, code):
    response = url_client.post("/dataset/upload", json={"dataset_url": url, "mode": "smart"})
    assert response.status_code == status and response.json["error"]["code"] == code, response.json
    assert Dataset.query.count() == 0 and ModeUsage.query.count() == 0 and stored_files(app) == []


def test_loopback_refused_by_default(client, server, app):
    response = client.post("/dataset/upload", data={"dataset_url": server + "/data.csv"})
    assert response.status_code == 400 and response.json["error"]["code"] == "forbidden_url"


def test_slow_download_is_cut_at_the_time_limit(url_client, server, app, run_worker, monkeypatch):
    monkeypatch.setitem(app.config, "URL_FETCH_TIMEOUT", 1)
    response = url_client.post("/dataset/upload", data={"dataset_url": server + "/trickle.csv"})
    assert response.status_code == 202  # the request did not wait for the trickle
    run_worker()
    status = status_of(url_client, response.json["dataset_id"])
    assert status["status"] == "failed" and status["error"] == "fetch_failed: The download took longer than 1 s."
    assert stored_files(app) == []


def test_connections_are_checked_where_they_land(server):
    """DNS rebinding: whatever a name resolved to before, the connection itself is checked."""
    with pytest.raises(APIError) as info:
        guarded_session(allow_private=False).get(server + "/data.csv", timeout=5)
    assert info.value.code == "forbidden_url"
    assert guarded_session(allow_private=True).get(server + "/data.csv", timeout=5).content == CSV
