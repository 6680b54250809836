"""Local peers for tests and the bench: an HTTP receiver (webhooks, WeCom/DingTalk robots) in a
thread, and a real SMTP server (aiosmtpd). Not used by the product."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST. `fail_first`: answer the first n requests with 500; `errcode`: answer
    robots' {"errcode": n}; `stall`: hold each request until the event is set (for kill tests);
    `accepted` counts requests per idempotency key (X-SafeWork-Delivery), `unique` keeps the
    first of each key, as a receiving system that honours the key does."""

    fail_first: int = 0
    errcode: int = 0
    stall: threading.Event | None = None
    stall_after: int = 0
    requests: list[Received] = field(default_factory=list)
    accepted: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    reached: threading.Event = field(default_factory=threading.Event)
    first_at: float = 0.0  # time.monotonic() of the first and the last accepted request
    last_at: float = 0.0

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
            # One write per answer, sent at once: headers and body written apart wait for the
            # peer's delayed ACK (Nagle), 40 ms per request.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    n = len(receiver.requests)
                    failing = n <= receiver.fail_first
                    if not failing:
                        key = self.headers.get("X-SafeWork-Delivery") or f"#{n}"
                        receiver.accepted[key] = receiver.accepted.get(key, 0) + 1
                        receiver.last_at = time.monotonic()
                        receiver.first_at = receiver.first_at or receiver.last_at
                if receiver.stall is not None and n > receiver.stall_after:
                    receiver.reached.set()
                    receiver.stall.wait()
                if failing:
                    self.send_response(500)
                    self.send_header("Content-Length", "4")
                    self.end_headers()
                    self.wfile.write(b"busy")
                    return
                answer = json.dumps({"errcode": receiver.errcode, "errmsg": "x"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        if self.stall is not None:
            self.stall.set()
        self.server.shutdown()
        self.server.server_close()


def dingtalk_sign_ok(path: str, secret: str) -> bool:
    """Check DingTalk's signature the way DingTalk does."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    ts, sign = query["timestamp"][0], query["sign"][0]
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), sign)


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a free local port, keeping every message."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.port = free_port()
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's)
                outer.messages.append(envelope)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    @property
    def mailer(self) -> dict:
        options = {"host": "127.0.0.1", "port": self.port, "timeout": 5}
        backend = "django.core.mail.backends.smtp.EmailBackend"
        return {"default": {"BACKEND": backend, "OPTIONS": options}}
