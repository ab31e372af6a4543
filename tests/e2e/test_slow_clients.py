"""Slow clients and slow URLs against real gunicorn (gunicorn.conf.py) and a real worker process."""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from harness.processes import reap, start_gunicorn
from tests.e2e.conftest import wait_for

THREADS = 2  # the one web process under test; every test uses more slow peers than this
HEAD = b"GET /health HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slowloris\r\nAccept: */*\r\n\r\n"
CSV_LINES = [b"a,b\n"] + [b"%d,x%d\n" % (i, i % 3) for i in range(20)]


@pytest.fixture(scope="module")
def env(env):
    """The e2e environment, with loopback URLs allowed so the worker may reach the trickling server."""
    return dict(env, ALLOW_PRIVATE_URLS="true")


@pytest.fixture()
def web(env):
    proc, base = start_gunicorn(env, "--workers", "1", "--threads", str(THREADS))
    yield base
    reap(proc)


def connect(base: str) -> socket.socket:
    parts = urlsplit(base)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def test_slowloris_heads_hold_no_thread(web):
    slow = [connect(web) for _ in range(4 * THREADS)]
    try:
        for i in range(len(HEAD) - 4):  # bounded: every head one byte at a time, all but its last bytes
            for sock in slow:
                sock.send(HEAD[i:i + 1])
            if i % 10 == 0:  # meanwhile ordinary clients are answered
                assert requests.get(web + "/health", timeout=5).status_code == 200
            time.sleep(0.02)
        for sock in slow:  # the slow ones are served too once their heads are complete
            sock.sendall(HEAD[-4:])
        for sock in slow:
            assert sock.recv(64).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in slow:
            sock.close()


def test_oversized_head_is_refused(web):
    with connect(web) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 40_000)
        assert sock.recv(64).startswith(b"HTTP/1.1 431 ")
    assert requests.get(web + "/health", timeout=5).status_code == 200


class Trickle(BaseHTTPRequestHandler):
    """A CSV sent a line every 0.1 s (about 2 s in all); every request is recorded."""

    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(sum(map(len, CSV_LINES))))
        self.end_headers()
        for line in CSV_LINES:
            self.wfile.write(line)
            self.wfile.flush()
            time.sleep(0.1)

    def log_message(self, *args):
        return None


@pytest.fixture()
def trickle():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_slow_urls_hold_no_request_thread(web, workers, trickle, tmp_path):
    ids = []
    for i in range(2 * THREADS):  # each would have held a thread for its whole download
        response = requests.post(web + "/dataset/upload", json={"dataset_url": f"{trickle}/slow{i}.csv"}, timeout=10)
        assert response.status_code == 202 and response.json()["status"] == "queued", response.text
        ids.append(response.json()["dataset_id"])
    assert Trickle.hits == []  # answered without downloading anything

    workers()
    wait_for(web, ids[0], lambda s: s["stage"] == "fetching", 60)
    assert requests.get(web + "/health", timeout=5).status_code == 200  # while the worker downloads
    sample = tmp_path / "small.csv"
    sample.write_bytes(b"".join(CSV_LINES))
    with sample.open("rb") as handle:
        upload = requests.post(web + "/dataset/upload", files={"file": handle}, timeout=10)
    assert upload.status_code == 202 and upload.json()["rows"] == 20

    for dataset_id in ids:
        status = wait_for(web, dataset_id, lambda s: s["status"] in ("completed", "failed"), 120)
        assert status["status"] == "completed", status
        assert (status["rows"], status["columns"]) == (20, 2)
    assert sorted(Trickle.hits) == sorted(f"/slow{i}.csv" for i in range(2 * THREADS))
