"""Score, record and render units while the run is waiting on the endpoint.

Most of a run against an endpoint is waiting: answers come back in bursts, and
between bursts the process has nothing to do. Scoring the units whose outcomes are
final and rendering their report sections in those quiet moments costs no wall
time, and what is left for the end is only the units that answered last.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from llmcert.engine import Journal, WorkUnit
from llmcert.report import RequestRow, UnitSections
from llmcert.scoring import Scorer
from llmcert.services._results import UnitResult, request_record, unit_result

#: Longest stretch of unit work between two yields to the event loop, in seconds:
#: an answer arriving meanwhile waits about this long to be journaled.
SLICE_S = 0.004
#: Work starts only once no answer has arrived for this long, so that a burst of
#: answers (and the calls they free a worker to send) is never held up.
QUIET_S = 0.005


class UnitFinisher:
    """Per-unit results of one run, computed as early as each unit's outcome is final.

    A unit taken from the journal is final from the start; a sent unit once its
    outcome is committed (:meth:`recorded`). :meth:`start` begins working through
    the final units on the event loop, in short slices and only in quiet moments;
    :meth:`complete` does the rest. The journal stays the truth: every outcome is
    read back from it.
    """

    def __init__(
        self,
        units: Sequence[WorkUnit],
        scorer: Scorer,
        sent_now: set[str],
        journal: Journal,
        *,
        ahead: Sequence[Callable[[], object]] = (),
    ) -> None:
        """``ahead``: other work for the end of the run, done first in the quiet moments."""
        self._ahead = ahead
        self._units = list(units)
        self._scorer = scorer
        self._sent_now = sent_now
        self._journal = journal
        self._index = {u.key: i for i, u in enumerate(self._units)}
        self._final = deque(u for u in self._units if u.key not in sent_now)
        self._more = asyncio.Event()
        self._last_recorded = 0.0
        self._results: dict[str, UnitResult] = {}
        self._requests: list[dict[str, Any]] | None = None
        self._sections: UnitSections | None = None
        self._task: asyncio.Task[None] | None = None

    def recorded(self, unit: WorkUnit) -> None:
        self._final.append(unit)
        self._last_recorded = time.perf_counter()
        self._more.set()

    def start(self) -> None:
        """Begin working ahead (from inside the event loop that runs the calls)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._work_ahead())

    async def stop(self) -> None:
        """Stop working ahead; what was done is kept."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def complete(self) -> list[UnitResult]:
        """Every unit's result, in plan order (after :meth:`stop`)."""
        missing = [u for u in self._units if u.key not in self._results]
        self._finish(missing, render=False)
        return [self._results[u.key] for u in self._units]

    @property
    def sections(self) -> UnitSections | None:
        """The report's unit sections rendered so far; ``None`` if no quiet moment came."""
        return self._sections

    def _plan_sections(self) -> None:
        self._sections = UnitSections(self._rows())

    def _rows(self) -> list[RequestRow]:
        if self._requests is None:
            self._requests = [request_record(u) for u in self._units]
        return [
            RequestRow(u.item.id, u.repeat, request)
            for u, request in zip(self._units, self._requests, strict=True)
        ]

    async def _work_ahead(self) -> None:
        once: list[Callable[[], object]] = [*self._ahead, self._plan_sections]
        final = self._final
        await self._more.wait()  # nothing before the first answer: the first calls go out as one
        while True:
            await self._quiet()
            if once:
                # One-off steps run whole: each is short next to a quiet moment.
                once.pop(0)()
            elif final:
                deadline = time.perf_counter() + SLICE_S
                while final and time.perf_counter() < deadline:
                    self._finish([final.popleft() for _ in range(min(16, len(final)))], render=True)
            else:
                self._more.clear()
                await self._more.wait()

    async def _quiet(self) -> None:
        """Return once no answer has been recorded for :data:`QUIET_S`."""
        while (wait := self._last_recorded + QUIET_S - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        await asyncio.sleep(0)  # let anything ready go first

    def _finish(self, units: Sequence[WorkUnit], *, render: bool) -> None:
        todo = [u for u in units if u.key not in self._results]
        if not todo:
            return
        requests = self._requests
        entries = self._journal.lookup(u.key for u in todo)
        for unit in todo:
            index = self._index[unit.key]
            result = unit_result(
                unit,
                entries[unit.key],
                self._scorer,
                from_journal=unit.key not in self._sent_now,
                request=None if requests is None else requests[index],
            )
            self._results[unit.key] = result
            if render and self._sections is not None:
                self._sections.render(index, result.record)
