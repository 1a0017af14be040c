"""Run work units against a backend: bounded, retried, journaled exactly once."""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field

from llmcert._retry import Outcome, RetryPolicy, call_with_retries
from llmcert.engine._journal import Journal
from llmcert.engine._progress import NullProgress, ProgressSink
from llmcert.engine._workunit import PlannedRequest, UnitRequest, WorkUnit
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


def effective_concurrency(concurrency: int, backend: ModelBackend) -> int:
    """How many calls may be in flight: the run's setting, capped by the backend's own limit."""
    return max(1, min(concurrency, backend.max_concurrency or concurrency))


class StartedCalls:
    """The first wave of a run, sent before its units could be keyed.

    The model is still being identified; :func:`execute` takes these calls over
    once it is, instead of sending their units again. With ``limit``, at most
    that many are in flight and each answer starts the next planned request
    (``planned`` may be lazy), so the endpoint stays busy however long the
    identification takes; :func:`execute` stops the refills when it takes over.
    """

    def __init__(
        self,
        backend: ModelBackend,
        planned: Iterable[PlannedRequest],
        *,
        retry: RetryPolicy | None = None,
        seed: int = 0,
        limit: int | None = None,
    ) -> None:
        self._backend = backend
        self._policy = retry or RetryPolicy()
        self._rng = random.Random(seed)
        self._pending: Iterator[PlannedRequest] | None = iter(planned)
        self.first_at = time.perf_counter()
        self._calls: dict[str, tuple[float, asyncio.Task[Outcome[ModelOutput]]]] = {}
        if limit is None:
            while self._start_next():
                pass
        else:
            for _ in range(limit):
                if not self._start_next():
                    break

    def _start_next(self, _done: object = None) -> bool:
        p = next(self._pending, None) if self._pending is not None else None
        if p is None:
            return False
        call = functools.partial(_call, self._backend, p.request)
        task = asyncio.create_task(call_with_retries(call, self._policy, self._rng))
        self._calls[p.request_key] = (time.perf_counter(), task)
        task.add_done_callback(self._refill)
        return True

    def _refill(self, task: asyncio.Task[Outcome[ModelOutput]]) -> None:
        if not task.cancelled():
            self._start_next()

    def hold(self) -> None:
        """Start no further calls (those started go on)."""
        self._pending = None

    def take(
        self, request_key: str | None
    ) -> tuple[float, asyncio.Task[Outcome[ModelOutput]]] | None:
        return None if request_key is None else self._calls.pop(request_key, None)

    async def cancel(self) -> None:
        """Abandon every call not taken over; their answers are never recorded."""
        self.hold()
        calls, self._calls = self._calls, {}
        for _, task in calls.values():
            task.cancel()
        await asyncio.gather(*(task for _, task in calls.values()), return_exceptions=True)


async def _call(backend: ModelBackend, request: UnitRequest) -> ModelOutput:
    if isinstance(request, GenerateRequest):
        return await backend.generate(request)
    return await backend.loglikelihood(request)


def _error_text(exc: ModelError) -> str:
    return f"{type(exc).__name__}: {exc}"


async def execute(
    units: Iterable[WorkUnit],
    backend: ModelBackend,
    journal: Journal,
    *,
    run_id: str,
    concurrency: int,
    retry: RetryPolicy | None = None,
    progress: ProgressSink | None = None,
    seed: int = 0,
    on_recorded: Callable[[WorkUnit], None] | None = None,
    started: StartedCalls | None = None,
) -> ExecutionStats:
    """Send every unit once, committing each outcome as it arrives.

    ``concurrency`` workers share one iterator, so the endpoint always has that
    many calls in flight until the tail. An authentication failure stops the run
    (every later call would fail the same way); other failures are recorded per
    unit after retries and the run goes on.

    ``on_recorded`` hears of each unit once its outcome is committed (so a caller
    can get ahead on its own work). A unit whose request is among ``started`` is
    not sent again: its call is awaited.

    ``units`` may be a lazy iterator (planned as the workers take units): without
    a length, ``concurrency`` workers start and those that find it empty stop.
    """
    policy = retry or RetryPolicy()
    sink = progress or NullProgress()
    stats = ExecutionStats()
    rng = random.Random(seed)
    limit = effective_concurrency(concurrency, backend)
    pending = iter(units)
    clock = time.perf_counter

    def on_retry(_: ModelError | None) -> None:
        stats.retries += 1
        sink.retried()

    async def worker() -> None:
        for unit in pending:
            taken = started.take(unit.request_key) if started is not None else None
            if taken is not None:
                sent_at, task = taken
                outcome = await task
                for _ in range(outcome.attempts - 1):
                    on_retry(None)
            else:
                sent_at = clock()
                if stats.first_request_at is None:
                    stats.first_request_at = sent_at
                call = functools.partial(_call, backend, unit.request)
                outcome = await call_with_retries(call, policy, rng, on_retry=on_retry)
            finished = clock()
            stats.last_response_at = finished
            stats.sent += 1
            latency = finished - sent_at
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
                request_key=unit.request_key,
            )
            if err is None:
                stats.latencies.append(latency)
            else:
                stats.errors += 1
            sink.advance(error=err is not None)
            if on_recorded is not None:
                on_recorded(unit)

    if started is not None:
        started.hold()
        stats.first_request_at = started.first_at
    workers = min(limit, len(units)) if isinstance(units, Sized) else limit
    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if started is not None:
            await started.cancel()
    return stats
