"""A small JSON-over-HTTP client on urllib with retries, backoff and rate limiting.

urllib rather than a third-party client: the destinations need one POST with a timeout,
and the standard library keeps the publish stage free of extra dependencies.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tierwise.masking import mask
from tierwise.publish.errors import DestinationUnavailableError
from tierwise.publish.retry import (
    RateLimiter,
    RetriesExhaustedError,
    RetryableError,
    RetryPolicy,
    call_with_retries,
    parse_retry_after,
)

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
Signer = Callable[[bytes], Mapping[str, str]]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None  # parsed JSON when the answer is JSON, else text

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)


@dataclass
class HttpStats:
    requests: int = 0
    throttled: int = 0
    server_errors: int = 0
    timeouts: int = 0


def _decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return text


class JsonHttpClient:
    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.limiter = limiter
        self.stats = HttpStats()
        self._sleep = sleep
        # Never send loopback traffic through a proxy from the environment.
        handlers = [urllib.request.ProxyHandler({})] if urlsplit(self.base_url).hostname in _LOOPBACK else []
        self._opener = urllib.request.build_opener(*handlers)

    def post(self, path: str, payload: Any, *, sign: Signer | None = None) -> HttpResponse:
        """POST ``payload`` as JSON; retries 429, 5xx, timeouts and resets; returns any other answer."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, default=str).encode("utf-8")
        try:
            return call_with_retries(lambda: self._try(path, body, sign), self.policy, sleep=self._sleep)
        except RetriesExhaustedError as error:
            raise DestinationUnavailableError(f"{self.base_url}{path}: {mask(error)}") from error

    def _try(self, path: str, body: bytes, sign: Signer | None) -> HttpResponse:
        if self.limiter is not None:
            self.limiter.acquire(self._sleep)
        headers = {"Content-Type": "application/json", "Accept": "application/json", **self.headers}
        if sign is not None:
            headers.update(sign(body))  # per try: signatures carry a fresh timestamp
        response = self._request(path, body, headers)
        if response.status == 429:
            self.stats.throttled += 1
            raise RetryableError("HTTP 429 rate limited", parse_retry_after(response.header("Retry-After")))
        if response.status >= 500:
            self.stats.server_errors += 1
            raise RetryableError(f"HTTP {response.status}", parse_retry_after(response.header("Retry-After")))
        return response

    def _request(self, path: str, body: bytes, headers: Mapping[str, str]) -> HttpResponse:
        request = urllib.request.Request(
            self.base_url + path, data=body, headers=dict(headers), method="POST"
        )
        self.stats.requests += 1
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return HttpResponse(answer.status, dict(answer.headers.items()), _decode(answer.read()))
        except urllib.error.HTTPError as error:
            with error:
                return HttpResponse(error.code, dict(error.headers.items()), _decode(error.read()))
        except TimeoutError as error:
            self.stats.timeouts += 1
            raise RetryableError(f"timed out after {self.timeout}s") from error
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as error:
            raise RetryableError(f"connection failed: {type(error).__name__}: {error}") from error
