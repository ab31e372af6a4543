"""URL ingestion against a loopback HTTP server: fetch, redirects re-checked, caps."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.errors import APIError
from app.ingest import guarded_session
from app.models import Dataset
from tests.conftest import stored_files

CSV = b"a,b\n1,x\n2,y\n"


class Handler(BaseHTTPRequestHandler):
    routes = {
        "/data.csv": (200, {"Content-Type": "text/csv"}, CSV),
        "/download": (200, {"Content-Type": "text/csv; charset=utf-8"}, CSV),
        "/hop": (302, {"Location": "/data.csv"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/missing.csv": (404, {}, b"nope"),
        "/login": (200, {"Content-Type": "text/html; charset=utf-8"}, b"<html><form>sign in</form></html>"),
        "/big.csv": (200, {"Content-Type": "text/csv"}, b"a\n" + b"1\n" * 1_200_000),
    }

    def do_GET(self):  # noqa: N802 - http.server's naming
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
def url_client(app, db):
    app.config.update(ALLOW_PRIVATE_URLS=True, MAX_UPLOAD_MB=1)
    yield app.test_client()
    app.config.update(ALLOW_PRIVATE_URLS=False, MAX_UPLOAD_MB=200)


@pytest.mark.parametrize("path,name", [("/data.csv", "data"), ("/download", "download"), ("/hop", "data")])
def test_fetch(url_client, server, db, path, name):
    response = url_client.post("/dataset/upload", json={"dataset_url": server + path, "user_id": "u1"})
    assert response.status_code == 202, response.json
    dataset = db.session.get(Dataset, response.json["dataset_id"])
    assert (dataset.rows, dataset.columns, dataset.database_name) == (2, 2, name)
    assert dataset.source_url == server + path


@pytest.mark.parametrize("path,status,code", [
    ("/to-metadata", 400, "forbidden_url"), ("/loop", 422, "fetch_failed"),
    ("/missing.csv", 422, "fetch_failed"), ("/big.csv", 413, "too_large"), ("/login", 415, "unsupported_format"),
])
def test_fetch_refused(url_client, server, app, db, path, status, code):
    response = url_client.post("/dataset/upload", data={"dataset_url": server + path})
    assert response.status_code == status and response.json["error"]["code"] == code
    assert Dataset.query.count() == 0 and stored_files(app) == []


def test_loopback_refused_by_default(client, server, app):
    response = client.post("/dataset/upload", data={"dataset_url": server + "/data.csv"})
    assert response.status_code == 400 and response.json["error"]["code"] == "forbidden_url"


def test_slow_download_is_cut_at_the_time_limit(url_client, server, app):
    app.config["URL_FETCH_TIMEOUT"] = 1
    try:
        started = time.monotonic()
        response = url_client.post("/dataset/upload", data={"dataset_url": server + "/trickle.csv"})
        assert time.monotonic() - started < 5  # the trickle alone would take 12 s
        assert response.status_code == 422 and "longer than 1 s" in response.json["error"]["message"]
        assert stored_files(app) == []
    finally:
        app.config["URL_FETCH_TIMEOUT"] = 60


def test_connections_are_checked_where_they_land(server):
    """DNS rebinding: whatever a name resolved to before, the connection itself is checked."""
    with pytest.raises(APIError) as info:
        guarded_session(allow_private=False).get(server + "/data.csv", timeout=5)
    assert info.value.code == "forbidden_url"
    assert guarded_session(allow_private=True).get(server + "/data.csv", timeout=5).content == CSV
