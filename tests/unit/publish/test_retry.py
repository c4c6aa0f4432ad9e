from __future__ import annotations

import pytest

from tierwise.publish.retry import (
    RateLimiter,
    RetriesExhaustedError,
    RetryableError,
    RetryPolicy,
    call_with_retries,
    parse_retry_after,
)


def test_backoff_is_capped_full_jitter() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    for attempt in range(8):
        assert 0 <= policy.delay(attempt) <= min(4.0, 2**attempt)


def test_retry_after_is_honoured() -> None:
    waits: list[float] = []
    calls = iter([RetryableError("429", retry_after=3.0), RetryableError("500"), "done"])

    def flaky() -> str:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    assert call_with_retries(flaky, RetryPolicy(base_delay=0.01), sleep=waits.append) == "done"
    assert 3.0 <= waits[0] <= 3.02 and waits[1] <= 0.02  # second try: attempt 1, cap 2 x base


def test_gives_up_after_max_retries_or_on_a_long_retry_after() -> None:
    def always() -> None:
        raise RetryableError("503")

    with pytest.raises(RetriesExhaustedError, match="3 tries"):
        call_with_retries(always, RetryPolicy(max_retries=2, base_delay=0), sleep=lambda _: None)

    def closed() -> None:
        raise RetryableError("429", retry_after=3600)

    with pytest.raises(RetriesExhaustedError, match="3600"):
        call_with_retries(closed, RetryPolicy(max_retry_after=60), sleep=lambda _: None)


def test_parse_retry_after() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None


def test_rate_limiter_sliding_window() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 10.0, clock=lambda: now[0])
    assert limiter.wait_time() == 0 and limiter.wait_time() == 0
    assert limiter.wait_time() == pytest.approx(10.0)
    now[0] = 10.0
    assert limiter.wait_time() == 0
