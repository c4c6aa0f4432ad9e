"""A local HTTP server implementing the part of HubSpot's CRM API that Tierwise uses.

``POST /crm/v3/objects/contacts/batch/upsert`` with Bearer auth; at most ``max_inputs``
inputs (400 beyond); duplicate ids are a 400; a sliding per-window request limit answers
429 with Retry-After; scripted faults (500, 503, timeout, 429) are taken from ``faults``
one per request. Invalid property values give a 207 multi-status answer (valid inputs
applied) when every input carries objectWriteTraceId, else a 400 for the whole batch.
With ``echo_key`` every error body quotes the Authorization header it received, as some
APIs do ("the key ... is invalid"): the client must never pass such a body on unmasked.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/crm/v3/objects/contacts/batch/upsert"
ID_PROPERTIES = {"email", "tierwise_customer_id", "tierwise_email_sha256"}
NUMERIC = {"customer_value", "next_tier_gap"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Logged:
    status: int
    inputs: int
    at: float


@dataclass
class FakeHubSpot:
    token: str = "test-token"
    rate_limit: int = 1000
    window: float = 10.0
    max_inputs: int = 100
    multi_status: bool = True
    allowed_tiers: frozenset[str] = frozenset({"unrated", "bronze", "silver", "gold", "platinum"})
    timeout_delay: float = 1.0
    echo_key: bool = False
    faults: deque[str] = field(default_factory=deque)
    contacts: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    writes: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeHubSpot:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def by_customer(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return {props["tierwise_customer_id"]: {**props} for props in self.contacts.values()}

    def statuses(self) -> list[int]:
        with self._lock:
            return [entry.status for entry in self.log]

    # -- request handling, called from the handler thread ---------------------------

    def throttle(self) -> float | None:
        """Seconds to wait if this request is over the limit, else None (and count it)."""
        with self._lock:
            now = time.monotonic()
            while self._window and now - self._window[0] >= self.window:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                return self.window - (now - self._window[0])
            self._window.append(now)
            return None

    def next_fault(self) -> str | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None

    def record(self, status: int, inputs: int) -> None:
        with self._lock:
            self.log.append(Logged(status, inputs, time.monotonic()))

    def error_text(self, message: str, authorization: str | None) -> str:
        """The message of an error body, quoting the presented key when ``echo_key`` is set."""
        if not self.echo_key:
            return message
        key = (authorization or "").removeprefix("Bearer ")
        return f"{message} (the key {key} was used)"

    def validate(self, item: dict[str, Any]) -> str | None:
        id_property, value = item.get("idProperty"), str(item.get("id") or "")
        if id_property not in ID_PROPERTIES or not value:
            return f"Unknown or empty idProperty {id_property!r}"
        if id_property == "email" and not EMAIL.match(value):
            return f'Property values were not valid: email "{value}" is not a valid email address'
        props = item.get("properties") or {}
        tier = props.get("customer_tier")
        if tier not in (None, "") and tier not in self.allowed_tiers:
            return f'Property values were not valid: "{tier}" is not an allowed option of customer_tier'
        for name in NUMERIC & set(props):
            try:
                if props[name] != "":
                    float(props[name])
            except ValueError:
                return f'Property values were not valid: {name} "{props[name]}" is not a number'
        return None

    def apply(self, items: list[dict[str, Any]]) -> None:
        with self._lock:
            for item in items:
                key = (item["idProperty"], str(item["id"]))
                # Like HubSpot, the unique property used as id is set on the record.
                stored = self.contacts.setdefault(key, {item["idProperty"]: str(item["id"])})
                stored.update(item.get("properties") or {})
                self.writes += 1


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHubSpot
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, a client keeping the connection
    # alive waits for its delayed ACK (about 40 ms) before each answer's body.
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _reply(
        self, status: int, body: dict[str, Any], inputs: int = 0, headers: dict[str, str] | None = None
    ):
        key = self.headers.get("Authorization")
        if "message" in body and status >= 400:
            body = {**body, "message": self.fake.error_text(body["message"], key)}
        for error in body.get("errors", []):
            error["message"] = self.fake.error_text(error["message"], key)
        raw = json.dumps(body).encode()
        self.fake.record(status, inputs)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        # The client may have given up waiting (a scripted timeout): that is the point.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(raw)

    def _rate_limited(self, wait: float) -> None:
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "TEN_SECONDLY_ROLLING",
        }
        # Real servers send whole seconds; a sub-second test window needs fractions to stay fast.
        retry_after = f"{max(wait, 0.01):.2f}" if wait < 1 else str(math.ceil(wait))
        self._reply(429, body, headers={"Retry-After": retry_after})

    def do_POST(self) -> None:  # http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        if self.path != PATH:
            return self._reply(404, {"status": "error", "message": "not found"})
        if self.headers.get("Authorization") != f"Bearer {self.fake.token}":
            return self._reply(401, {"status": "error", "message": "Authentication credentials not found"})
        wait = self.fake.throttle()
        if wait is not None:
            return self._rate_limited(wait)
        fault = self.fake.next_fault()
        if fault == "429":
            return self._rate_limited(min(0.2, self.fake.window))
        if fault in ("500", "503"):
            return self._reply(int(fault), {"status": "error", "message": "internal error"})
        self._upsert(payload.get("inputs") or [], late=fault == "timeout")

    def _upsert(self, inputs: list[dict[str, Any]], *, late: bool) -> None:
        if not 1 <= len(inputs) <= self.fake.max_inputs:
            message = f"Batch input size must be between 1 and {self.fake.max_inputs}"
            return self._reply(
                400, {"status": "error", "category": "VALIDATION_ERROR", "message": message}, len(inputs)
            )
        ids = [(item.get("idProperty"), str(item.get("id"))) for item in inputs]
        if len(set(ids)) != len(ids):
            body = {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Duplicate IDs found in batch input",
            }
            return self._reply(400, body, len(inputs))
        problems = {index: error for index, item in enumerate(inputs) if (error := self.fake.validate(item))}
        traced = all(item.get("objectWriteTraceId") for item in inputs)
        if problems and not (self.fake.multi_status and traced):
            body = {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": next(iter(problems.values())),
            }
            return self._reply(400, body, len(inputs))
        good = [item for index, item in enumerate(inputs) if index not in problems]
        self.fake.apply(good)
        if late:
            time.sleep(self.fake.timeout_delay)  # applied, but the answer comes too late
        results = [
            {
                "id": str(abs(hash(item["id"]))),
                "properties": item.get("properties"),
                "new": True,
                "objectWriteTraceId": item.get("objectWriteTraceId"),
            }
            for item in good
        ]
        errors = [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": problems[index],
                "context": {"objectWriteTraceId": [inputs[index]["objectWriteTraceId"]]},
            }
            for index in sorted(problems)
        ]
        body = {"status": "COMPLETE", "results": results, "numErrors": len(errors), "errors": errors}
        self._reply(207 if errors else 200, body, len(inputs))
