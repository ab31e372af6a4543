"""A loopback stand-in for Gemini's generateContent endpoint, for the real google-genai client."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Reply = Callable[[dict], tuple[int, object, float]]  # request body -> (status, text or body, delay s)


def text_reply(text: str, delay: float = 0.0) -> Reply:
    return lambda _body: (200, text, delay)


def candidates(text: str) -> dict:
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP",
                            "index": 0}], "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1}}


class FakeGemini:
    def __init__(self):
        self.requests: list[dict] = []
        self.reply: Reply = text_reply("{}")
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body, "key": self.headers.get("x-goog-api-key")})
                status, payload, delay = fake.reply(body)
                time.sleep(delay)
                data = json.dumps(candidates(payload) if isinstance(payload, str) else payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def prompt(self, index: int = -1) -> str:
        return self.requests[index]["body"]["contents"][0]["parts"][0]["text"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
