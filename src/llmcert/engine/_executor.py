"""Run work units against a backend: bounded, retried, journaled exactly once."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from llmcert.engine._journal import Journal
from llmcert.engine._progress import NullProgress, ProgressSink
from llmcert.engine._retry import RetryPolicy, call_with_retries
from llmcert.engine._workunit import WorkUnit
from llmcert.errors import AuthenticationError, ModelError
from llmcert.models._types import GenerateRequest, ModelBackend, ModelOutput


@dataclass
class ExecutionStats:
    sent: int = 0
    errors: int = 0
    retries: int = 0
    first_request_at: float | None = None
    last_response_at: float | None = None
    latencies: list[float] = field(default_factory=list)

    @property
    def span_s(self) -> float | None:
        if self.first_request_at is None or self.last_response_at is None:
            return None
        return self.last_response_at - self.first_request_at


def _error_text(exc: ModelError) -> str:
    return f"{type(exc).__name__}: {exc}"


async def execute(
    units: Sequence[WorkUnit],
    backend: ModelBackend,
    journal: Journal,
    *,
    run_id: str,
    concurrency: int,
    retry: RetryPolicy | None = None,
    progress: ProgressSink | None = None,
    seed: int = 0,
) -> ExecutionStats:
    """Send every unit once, committing each outcome as it arrives.

    ``concurrency`` workers share one iterator, so the endpoint always has that
    many calls in flight until the tail. An authentication failure stops the run
    (every later call would fail the same way); other failures are recorded per
    unit after retries and the run goes on.
    """
    policy = retry or RetryPolicy()
    sink = progress or NullProgress()
    stats = ExecutionStats()
    rng = random.Random(seed)
    limit = max(1, min(concurrency, backend.max_concurrency or concurrency))
    pending = iter(units)
    clock = time.perf_counter

    def on_retry(_: ModelError) -> None:
        stats.retries += 1
        sink.retried()

    async def call(unit: WorkUnit) -> ModelOutput:
        if isinstance(unit.request, GenerateRequest):
            return await backend.generate(unit.request)
        return await backend.loglikelihood(unit.request)

    async def worker() -> None:
        for unit in pending:
            started = clock()
            if stats.first_request_at is None:
                stats.first_request_at = started
            outcome = await call_with_retries(
                functools.partial(call, unit), policy, rng, on_retry=on_retry
            )
            finished = clock()
            stats.last_response_at = finished
            stats.sent += 1
            latency = finished - started
            err = outcome.error
            if isinstance(err, AuthenticationError):
                raise err
            journal.record(
                unit.key,
                output=outcome.value,
                error=_error_text(err) if err is not None else None,
                error_kind=type(err).__name__ if err is not None else None,
                attempts=outcome.attempts,
                latency_s=latency,
                run_id=run_id,
            )
            if err is None:
                stats.latencies.append(latency)
            else:
                stats.errors += 1
            sink.advance(error=err is not None)

    tasks = [asyncio.create_task(worker()) for _ in range(min(limit, len(units)))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return stats
