from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tierwise.publish.retry import (
    RateLimiter,
    RetriesExhaustedError,
    RetryableError,
    RetryPolicy,
    call_with_retries,
    parse_retry_after,
)


def _waits(policy: RetryPolicy, errors: list[RetryableError]) -> list[float]:
    """The pauses ``call_with_retries`` takes between tries that fail with ``errors``."""
    waits: list[float] = []
    pending = iter(errors)

    def flaky() -> str:
        error = next(pending, None)
        if error is not None:
            raise error
        return "done"

    assert call_with_retries(flaky, policy, sleep=waits.append) == "done"
    return waits


def test_backoff_is_capped_full_jitter() -> None:
    policy = RetryPolicy(max_retries=8, base_delay=1.0, max_delay=4.0)
    waits = _waits(policy, [RetryableError("503")] * 8)
    assert len(waits) == 8
    for attempt, wait in enumerate(waits):
        assert 0 <= wait <= min(4.0, 2**attempt)


def test_backoff_jitter_spans_the_whole_window() -> None:
    # Full jitter: anywhere in [0, cap], not the cap plus a little (which would herd workers).
    firsts = [_waits(RetryPolicy(base_delay=1.0), [RetryableError("503")])[0] for _ in range(200)]
    assert min(firsts) < 0.25 and max(firsts) > 0.75


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


def test_parse_retry_after_reads_a_future_http_date() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 27 <= (parse_retry_after(soon) or 0) <= 30
    assert parse_retry_after("") is None and parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0


def test_an_http_date_hint_is_honoured_and_a_far_one_gives_up() -> None:
    soon = parse_retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True))
    waits = _waits(RetryPolicy(base_delay=0.01), [RetryableError("429", retry_after=soon)])
    assert 3 <= waits[0] <= 5.02
    later = parse_retry_after(format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True))

    def closed() -> None:
        raise RetryableError("429", retry_after=later)

    with pytest.raises(RetriesExhaustedError, match=r"server asked to wait 3[56]\d\ds"):
        call_with_retries(closed, RetryPolicy(max_retry_after=60), sleep=lambda _: None)


def test_other_errors_pass_through_untried_and_the_cause_is_kept() -> None:
    tries: list[int] = []

    def refused() -> None:
        tries.append(1)
        raise ValueError("400")

    with pytest.raises(ValueError, match="400"):
        call_with_retries(refused, RetryPolicy(), sleep=lambda _: None)
    assert len(tries) == 1
    last = RetryableError("503")

    def down() -> None:
        raise last

    with pytest.raises(RetriesExhaustedError) as failure:
        call_with_retries(down, RetryPolicy(max_retries=1, base_delay=0), sleep=lambda _: None)
    assert failure.value.__cause__ is last


def test_rate_limiter_sliding_window() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 10.0, clock=lambda: now[0])
    assert limiter.wait_time() == 0 and limiter.wait_time() == 0
    assert limiter.wait_time() == pytest.approx(10.0)
    now[0] = 10.0
    assert limiter.wait_time() == 0
