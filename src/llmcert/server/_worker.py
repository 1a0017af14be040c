"""Assessments run behind the API: a worker protocol, an in-process queue, the filing driver.

The HTTP request that submits a filing returns at once; the assessment (minutes
of model calls) runs as a background task. :class:`FilingProcessor` moves the
filing submitted → assessing → awaiting_review through the registry, so every
step is audited, and records the worker's assessment as evidence. A worker that
fails still hands the filing to review, with the failure as the note: the
assessor sees it and rejects, instead of the filing hanging in ``assessing``.
The applicant can read that note, so it holds only a classified error
(:func:`llmcert.egress.classify`); the details go to the operator's log.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from llmcert.registry import FilingRecord, FilingStatus, Registry

log = logging.getLogger(__name__)

#: The actor the registry's audit log names for steps the server takes on its own.
WORKER_ACTOR = "llmcert-server:worker"


@dataclass(frozen=True)
class WorkerResult:
    """An assessment as JSON (``Assessment`` form), its overall verdict and why."""

    assessment: dict[str, Any]
    verdict: str
    reasons: tuple[str, ...] = ()


class AssessmentWorker(Protocol):
    """Runs the assessment a filing asks for; the server only awaits the result."""

    async def run(self, filing: FilingRecord) -> WorkerResult: ...


AssessFunction = Callable[[FilingRecord], "WorkerResult | Awaitable[WorkerResult]"]


class QueueWorker:
    """An in-process worker: filings wait in an asyncio queue for a few consumer tasks.

    ``assess`` may be a coroutine function or a plain one; a plain one runs in a
    thread so a long assessment never blocks the event loop. ``concurrency``
    bounds how many assessments run at once (a model on 2 cores wants 1).
    """

    def __init__(self, assess: AssessFunction, *, concurrency: int = 1) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._assess = assess
        self._concurrency = concurrency
        self._queue: asyncio.Queue[tuple[FilingRecord, asyncio.Future[WorkerResult]]] | None = None
        self._consumers: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def _start(self) -> asyncio.Queue[tuple[FilingRecord, asyncio.Future[WorkerResult]]]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            self._loop, self._queue = loop, asyncio.Queue()
            self._consumers = [
                loop.create_task(self._consume(self._queue), name=f"llmcert-assess-{i}")
                for i in range(self._concurrency)
            ]
        return self._queue

    async def _consume(
        self, queue: asyncio.Queue[tuple[FilingRecord, asyncio.Future[WorkerResult]]]
    ) -> None:
        while True:
            filing, future = await queue.get()
            try:
                if inspect.iscoroutinefunction(self._assess):
                    result = await self._assess(filing)
                else:
                    outcome = await asyncio.to_thread(self._assess, filing)
                    result = await outcome if inspect.isawaitable(outcome) else outcome
                if not future.done():
                    future.set_result(result)
            except asyncio.CancelledError:
                if not future.done():
                    future.cancel()
                raise
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            finally:
                queue.task_done()

    async def run(self, filing: FilingRecord) -> WorkerResult:
        queue = self._start()
        future: asyncio.Future[WorkerResult] = asyncio.get_running_loop().create_future()
        await queue.put((filing, future))
        return await future

    @property
    def pending(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def aclose(self) -> None:
        for task in self._consumers:
            task.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        self._consumers, self._queue, self._loop = [], None, None


@dataclass
class FilingProcessor:
    """Drives submitted filings through the worker; one background task per filing."""

    registry: Registry
    worker: AssessmentWorker
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def schedule(self, filing_id: str) -> None:
        task = asyncio.get_running_loop().create_task(
            self.process(filing_id), name=f"llmcert-filing-{filing_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every scheduled filing has reached review (tests and shutdown use it)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def resume(self) -> list[str]:
        """Schedule filings a restart left behind; returns their ids.

        A filing still ``assessing`` had its assessment cut off: it goes back to
        ``submitted`` (audited, with the reason) and is assessed again, which the
        journal makes cheap. This assumes one server drives the workers.
        """
        interrupted = await asyncio.to_thread(
            self.registry.list_filings, status=FilingStatus.ASSESSING
        )
        for filing in interrupted:
            await asyncio.to_thread(
                self.registry.transition_filing,
                filing.id,
                FilingStatus.SUBMITTED,
                actor=WORKER_ACTOR,
                note="requeued: the server stopped during the assessment",
            )
        waiting = await asyncio.to_thread(self.registry.list_filings, status=FilingStatus.SUBMITTED)
        for filing in waiting:
            self.schedule(filing.id)
        return [f.id for f in waiting]

    async def process(self, filing_id: str) -> None:
        from llmcert.registry import RegistryError

        try:
            filing = await asyncio.to_thread(
                self.registry.transition_filing,
                filing_id,
                FilingStatus.ASSESSING,
                actor=WORKER_ACTOR,
                note="assessment started",
            )
        except RegistryError as exc:  # already taken by another process, or gone
            log.warning("filing %s not assessed: %s", filing_id, exc)
            return
        try:
            note = await self._assess(filing)
        except Exception as exc:
            from llmcert.egress import classify

            log.exception("assessment of filing %s failed", filing_id)
            # The applicant reads this note: a class of error, never what an endpoint sent.
            note = f"assessment failed: {classify(exc)}"
        try:
            await asyncio.to_thread(
                self.registry.transition_filing,
                filing_id,
                FilingStatus.AWAITING_REVIEW,
                actor=WORKER_ACTOR,
                note=note,
            )
        except RegistryError:
            log.exception("filing %s could not be handed to review", filing_id)

    async def _assess(self, filing: FilingRecord) -> str:
        """Run the worker and record its assessment; returns the note for the review step."""
        from llmcert.report import Assessment
        from llmcert.report._assessment_io import assessment_data, assessment_digest

        result = await self.worker.run(filing)
        assessment = Assessment.model_validate(result.assessment)
        if result.verdict != assessment.verdict:
            raise ValueError(
                f"worker verdict {result.verdict!r} differs from the assessment's "
                f"{assessment.verdict!r}"
            )
        await asyncio.to_thread(
            self.registry.record_assessment,
            filing.id,
            digest=assessment_digest(assessment),
            verdict=assessment.verdict,
            body=assessment_data(assessment),
            actor=WORKER_ACTOR,
        )
        reasons = "; ".join(result.reasons)
        return (f"assessment verdict {assessment.verdict}" + (f": {reasons}" if reasons else ""))[
            :1900
        ]
