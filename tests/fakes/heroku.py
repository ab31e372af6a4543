"""A loopback stand-in for the Heroku Platform API's formation endpoints, for the heroku backend."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORMATION = re.compile(r"^/apps/([^/]+)/formation/([^/]+)$")


class FakeHeroku:
    """One app with process types and quantities; checks the key and API version like Heroku does."""

    def __init__(self, app: str, key: str, formation: dict[str, int]):
        self.app, self.key, self.formation = app, key, dict(formation)
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append({"method": method, "path": self.path, "body": body})
                if self.headers.get("Authorization") != f"Bearer {fake.key}":
                    return self._reply(401, {"id": "unauthorized", "message": "Invalid credentials provided."})
                if "version=3" not in (self.headers.get("Accept") or ""):
                    return self._reply(400, {"id": "bad_request", "message": "Please specify a version."})
                match = FORMATION.match(self.path)
                if not match or match.group(1) != fake.app or match.group(2) not in fake.formation:
                    return self._reply(404, {"id": "not_found", "message": "Couldn't find that formation."})
                process_type = match.group(2)
                if method == "PATCH":
                    quantity = (body or {}).get("quantity")
                    if not isinstance(quantity, int) or quantity < 0:
                        return self._reply(422, {"id": "invalid_params", "message": "Invalid quantity."})
                    fake.formation[process_type] = quantity
                self._reply(200, {"type": process_type, "quantity": fake.formation[process_type],
                                  "command": "python -m scripts.worker", "size": "standard-1X"})

            def do_GET(self):  # noqa: N802 - http.server's naming
                self._handle("GET")

            def do_PATCH(self):  # noqa: N802
                self._handle("PATCH")

            def log_message(self, *args):
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def patches(self) -> list[int]:
        return [r["body"]["quantity"] for r in self.requests if r["method"] == "PATCH"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
