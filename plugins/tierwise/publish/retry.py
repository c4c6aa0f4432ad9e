"""Retries and client-side rate limiting shared by the network destinations.

tenacity runs the retries: full-jitter exponential backoff, capped (``wait_random_exponential``),
a stop after ``max_retries``, an injectable sleep. What stays written out here, and why:

- Retry-After: tenacity knows nothing of HTTP. A server's hint replaces the backoff, and a hint
  longer than ``max_retry_after`` stops at once; :func:`parse_retry_after` reads both of the
  header's forms (seconds, HTTP date) with the standard library, as httpx offers no parser.
- :class:`RateLimiter`: neither tenacity nor httpx limits the request rate on the client side
  (tenacity only spaces retries, httpx only caps connections), and no rate-limit library is in
  the lock; a sliding window of timestamps is a few lines.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NoReturn, TypeVar

import tenacity

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


class RetryableError(Exception):
    """A failure worth another try; ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetriesExhaustedError(Exception):
    """Every try failed with a retryable error; the last one is the cause."""


def _hint(state: tenacity.RetryCallState) -> float | None:
    error = state.outcome.exception() if state.outcome is not None else None
    return error.retry_after if isinstance(error, RetryableError) else None


class _WaitForServer(tenacity.wait.wait_base):
    """The server's Retry-After when it sent one, else full-jitter backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.backoff = tenacity.wait_random_exponential(multiplier=policy.base_delay, max=policy.max_delay)
        # A little jitter on top of a hint, so that parallel workers do not return in the same instant.
        self.spread = min(policy.base_delay, 1.0)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        hint = _hint(retry_state)
        if hint is None:
            return self.backoff(retry_state)
        return hint + random.uniform(0, self.spread)


class _StopOnLongHint(tenacity.stop.stop_base):
    """Stop when the server asks for a wait longer than ``limit`` seconds."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return (_hint(retry_state) or 0.0) > self.limit


def _give_up(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], NoReturn]:
    """What tenacity calls when it stops: raise the last failure as :class:`RetriesExhaustedError`."""

    def give_up(state: tenacity.RetryCallState) -> NoReturn:
        error = state.outcome.exception() if state.outcome is not None else None
        if state.attempt_number > policy.max_retries:
            raise RetriesExhaustedError(f"gave up after {state.attempt_number} tries: {error}") from error
        raise RetriesExhaustedError(f"server asked to wait {_hint(state) or 0.0:.0f}s: {error}") from error

    return give_up


def call_with_retries(
    func: Callable[[], T], policy: RetryPolicy, *, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Call ``func`` until it returns, retrying :class:`RetryableError` per ``policy``.

    Any other exception passes through at once. When the tries run out, or the server asks for
    a wait beyond ``policy.max_retry_after``, raises :class:`RetriesExhaustedError`.
    """
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RetryableError),
        stop=tenacity.stop_after_attempt(policy.max_retries + 1) | _StopOnLongHint(policy.max_retry_after),
        wait=_WaitForServer(policy),
        sleep=sleep,
        retry_error_callback=_give_up(policy),
    )
    return retrying(func)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from delay-seconds or an HTTP date; None when absent or unreadable.

    A date already past gives None rather than 0: with clocks that disagree it says nothing
    about when capacity returns, so the usual backoff applies.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322's unknown zone; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    seconds = (when - datetime.now(UTC)).total_seconds()
    return seconds if seconds > 0 else None


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
