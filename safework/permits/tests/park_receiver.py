"""A local stand-in for the chemical park's endpoint, for tests: an HTTP server on 127.0.0.1 in a
thread that records every request, can fail the first N, and keeps each idempotency key once (as
a real receiver must: a repeat is answered 200 and dropped)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    def __init__(self, *, fail_first: int = 0, fail_status: int = 500):
        self.fail_first, self.fail_status = fail_first, fail_status
        self.requests: list[Received] = []
        self.stored: dict[str, bytes] = {}  # idempotency key → body, first one kept
        self.repeats = 0
        self.on_request = None  # called with the request's headers before answering
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.on_request:
                    receiver.on_request(headers)
                status = receiver._take(headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"try again later")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/aq3064/push"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _take(self, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                status = self.fail_status
            else:
                status = 200
                key = headers.get("idempotency-key", "")
                if key in self.stored:
                    self.repeats += 1
                else:
                    self.stored[key] = body
            self.requests.append(Received(headers, body, status))
            return status

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
        return False
