"""A local webhook receiver that checks the HMAC-SHA256 signature of every message.

The check is written out here rather than imported from Tierwise, so a bug in our signing
cannot hide itself. ``faults`` (500, timeout) are served one per request.

``received`` holds every message accepted; ``shown`` what the receiver acts on (posts to
the channel). Slack's incoming webhooks ignore ``Idempotency-Key``, so by default every
message is shown; with ``honours_idempotency_key`` a message whose key was seen before is
answered 200 and not shown again (the key's contract: a repeated request has no effect).
``on_message`` runs after a message was accepted and before it is answered (a test kills
the sender there).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]

    def change_keys(self) -> list[str]:
        return [block["block_id"] for block in self.body.get("blocks", []) if block.get("type") == "section"]


@dataclass
class FakeWebhook:
    secret: str = "webhook-secret"
    timeout_delay: float = 1.0
    faults: deque[str] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    shown: list[Received] = field(default_factory=list)
    honours_idempotency_key: bool = False
    on_message: Callable[[Received], None] | None = None
    bad_signatures: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tiers"

    def __enter__(self) -> FakeWebhook:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        stamp = headers.get("X-Tierwise-Request-Timestamp", "")
        given = headers.get("X-Tierwise-Signature", "")
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return False
        mac = hmac.new(self.secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
        return hmac.compare_digest(f"v0={mac.hexdigest()}", given)

    def change_keys(self) -> list[str]:
        with self._lock:
            return [key for message in self.received for key in message.change_keys()]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeWebhook
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, a client keeping the connection
    # alive waits for its delayed ACK (about 40 ms) before each answer's body.
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, text: str) -> None:
        raw = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        # The client may have given up waiting (a scripted timeout): that is the point.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(raw)

    def do_POST(self) -> None:  # http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name: value for name, value in self.headers.items()}
        with self.fake._lock:
            fault = self.fake.faults.popleft() if self.fake.faults else None
        if fault == "500":
            return self._reply(500, "internal_error")
        if not self.fake.verify(raw, headers):
            with self.fake._lock:
                self.fake.bad_signatures += 1
            return self._reply(401, "invalid_signature")
        body = json.loads(raw)
        if not isinstance(body.get("text"), str) or not isinstance(body.get("blocks"), list):
            return self._reply(400, "invalid_payload")
        message = Received(body, headers)
        with self.fake._lock:
            key = headers.get("Idempotency-Key")
            seen = any(earlier.headers.get("Idempotency-Key") == key for earlier in self.fake.received)
            self.fake.received.append(message)
            if not (self.fake.honours_idempotency_key and key and seen):
                self.fake.shown.append(message)
        if self.fake.on_message is not None:
            self.fake.on_message(message)
        if fault == "timeout":
            time.sleep(self.fake.timeout_delay)  # delivered, but the answer comes too late
        self._reply(200, "ok")
