"""Retry with exponential backoff and full jitter, honouring Retry-After.

Only errors marked ``retryable`` are retried; anything else, and the last failure
of a retryable one, is returned to the caller to be recorded, never swallowed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from llmcert.errors import ModelError, RateLimited

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, error: ModelError, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            # The server said when; add a little jitter so a crowd does not return at once.
            return min(error.retry_after, self.max_retry_after) + rng.uniform(
                0, self.base_delay / 4
            )
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rng.uniform(0, ceiling)


@dataclass(slots=True)
class Outcome(Generic[T]):
    value: T | None
    error: ModelError | None
    attempts: int


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    rng: random.Random,
    *,
    on_retry: Callable[[ModelError], None] | None = None,
) -> Outcome[T]:
    attempt = 0
    while True:
        attempt += 1
        try:
            return Outcome(await call(), None, attempt)
        except ModelError as exc:
            if not exc.retryable or attempt >= policy.max_attempts:
                return Outcome(None, exc, attempt)
            if on_retry is not None:
                on_retry(exc)
            await asyncio.sleep(policy.delay(attempt, exc, rng))
