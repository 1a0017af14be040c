import random

import pytest

from llmcert.engine import RetryPolicy, call_with_retries
from llmcert.errors import AuthenticationError, RateLimited, ServerError


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(base_delay=0.4, max_retry_after=10.0)
    rng = random.Random(0)
    d = policy.delay(1, RateLimited("slow down", retry_after=3.0), rng)
    assert 3.0 <= d <= 3.1
    assert policy.delay(1, RateLimited("x", retry_after=999.0), rng) <= 10.1


def test_backoff_grows_and_is_bounded() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    rng = random.Random(1)
    for attempt in range(1, 10):
        d = policy.delay(attempt, ServerError("500"), rng)
        assert 0.0 <= d <= min(4.0, 2 ** (attempt - 1))


async def test_transient_errors_are_retried_until_success() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ServerError("HTTP 503")
        return "ok"

    retried: list[Exception] = []
    out = await call_with_retries(
        flaky, RetryPolicy(base_delay=0.001), random.Random(0), on_retry=retried.append
    )
    assert out.value == "ok"
    assert out.error is None
    assert out.attempts == 3
    assert len(retried) == 2


async def test_fatal_errors_are_not_retried() -> None:
    async def denied() -> str:
        raise AuthenticationError("HTTP 401")

    out = await call_with_retries(denied, RetryPolicy(base_delay=0.001), random.Random(0))
    assert out.value is None
    assert isinstance(out.error, AuthenticationError)
    assert out.attempts == 1


async def test_gives_up_after_max_attempts_and_returns_the_error() -> None:
    async def down() -> str:
        raise ServerError("HTTP 500")

    out = await call_with_retries(
        down, RetryPolicy(max_attempts=4, base_delay=0.001), random.Random(0)
    )
    assert isinstance(out.error, ServerError)
    assert out.attempts == 4


@pytest.mark.parametrize("attempts", [1, 2])
async def test_rate_limit_waits_at_least_retry_after(attempts: int) -> None:
    import time

    n = 0

    async def limited() -> int:
        nonlocal n
        n += 1
        if n <= attempts:
            raise RateLimited("429", retry_after=0.05)
        return n

    t = time.monotonic()
    out = await call_with_retries(limited, RetryPolicy(base_delay=0.001), random.Random(0))
    assert out.value == attempts + 1
    assert time.monotonic() - t >= 0.05 * attempts
