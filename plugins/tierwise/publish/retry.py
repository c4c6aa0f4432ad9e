"""Backoff, retry and client-side rate limiting shared by the network destinations."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; ``max_retries`` extra tries after the first."""

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A Retry-After longer than this means the service is effectively down for this run:
    # give up and let the next run pick the records up instead of holding the warehouse.
    max_retry_after: float = 120.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` starts at 0)."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        jitter = random.uniform(0, ceiling)
        if retry_after is not None:
            # The server told us when capacity returns; add a little jitter so that
            # parallel workers do not come back in the same instant.
            return retry_after + random.uniform(0, min(self.base_delay, 1.0))
        return jitter


class RetryableError(Exception):
    """A failure worth another try; ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetriesExhaustedError(Exception):
    """Every try failed with a retryable error; the last one is the cause."""


def call_with_retries(
    func: Callable[[], T], policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Call ``func`` until it returns, retrying :class:`RetryableError` per ``policy``."""
    attempt = 0
    while True:
        try:
            return func()
        except RetryableError as error:
            if attempt >= policy.max_retries:
                raise RetriesExhaustedError(f"gave up after {attempt + 1} tries: {error}") from error
            if error.retry_after is not None and error.retry_after > policy.max_retry_after:
                raise RetriesExhaustedError(
                    f"server asked to wait {error.retry_after:.0f}s: {error}"
                ) from error
            sleep(policy.delay(attempt, error.retry_after))
            attempt += 1


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds; HTTP dates are rare on APIs and treated as absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


class RateLimiter:
    """Sliding-window limiter: at most ``limit`` calls in any ``window`` seconds.

    Staying under the published limit is cheaper than bouncing off it: every 429 costs a
    round trip and, on HubSpot, counts against the daily quota.
    """

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def wait_time(self) -> float:
        """Seconds until a call is allowed; records the call when the answer is 0."""
        with self._lock:
            now = self._clock()
            while self._calls and now - self._calls[0] >= self.window:
                self._calls.popleft()
            if len(self._calls) < self.limit:
                self._calls.append(now)
                return 0.0
            return self.window - (now - self._calls[0])

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        while (pause := self.wait_time()) > 0:
            sleep(pause)
