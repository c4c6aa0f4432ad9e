"""JSON over HTTP for the publish destinations: httpx sends, tenacity retries.

httpx does the transport (pooled connections, timeouts, proxies from the environment);
:func:`tierwise.publish.retry.call_with_retries` (tenacity) does the retries. Written out here,
because neither library decides it: which answers are worth another try (429, 5xx, timeouts,
broken connections, each with the server's Retry-After), the client-side rate limit taken per
try, a signature made per try (it carries a fresh timestamp), and that errors leave masked.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import httpx

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


def json_body(response: httpx.Response) -> Any:
    """The answer's JSON when it is JSON, else its text; None when it is empty."""
    text = response.text
    try:
        return json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return text


class JsonHttpClient:
    """POSTs JSON to one base URL; close it (or use it as a context manager) to free its connections."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.limiter = limiter
        self._sleep = sleep
        self._client = httpx.Client(
            headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})},
            timeout=timeout,
            # The system's trust store, as before httpx (whose default is certifi's bundle):
            # a company CA installed on the host keeps working.
            verify=ssl.create_default_context(),
            # Never send loopback traffic through a proxy from the environment.
            trust_env=httpx.URL(self.base_url).host not in _LOOPBACK,
            transport=transport,
        )

    def post(self, path: str, payload: Any, *, sign: Signer | None = None) -> httpx.Response:
        """POST ``payload`` as JSON; retries 429, 5xx, timeouts and resets; returns any other answer."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, default=str).encode("utf-8")
        try:
            return call_with_retries(lambda: self._try(path, body, sign), self.policy, sleep=self._sleep)
        except RetriesExhaustedError as error:
            raise DestinationUnavailableError(mask(f"{self.base_url}{path}: {error}")) from error

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> JsonHttpClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _try(self, path: str, body: bytes, sign: Signer | None) -> httpx.Response:
        if self.limiter is not None:
            self.limiter.acquire(self._sleep)
        headers = dict(sign(body)) if sign is not None else {}  # per try: a fresh timestamp
        response = self._send(path, body, headers)
        if response.status_code == 429:
            raise RetryableError(
                "HTTP 429 rate limited", parse_retry_after(response.headers.get("Retry-After"))
            )
        if response.status_code >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RetryableError(f"HTTP {response.status_code}", retry_after)
        return response

    def _send(self, path: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        try:
            return self._client.post(self.base_url + path, content=body, headers=headers)
        except httpx.TimeoutException as error:
            raise RetryableError(f"timed out after {self.timeout}s") from error
        except httpx.RequestError as error:
            raise RetryableError(f"connection failed: {type(error).__name__}: {error}") from error
