"""Running the suites a standard's requirements name, drawing only the items needed.

Every suite is run once for all the requirements that read it. Items are drawn
stratified by risk (``sample``) and then put in a seeded random order, so that a
prefix of the order is itself a fair sample. When every requirement on a suite
uses the sequential rule, the suite runs in batches along that order and stops
as soon as all of them are settled: the anytime-valid guarantee holds at any
stopping time, so looking after every batch is allowed. Results go through the
same journal as ``llmcert eval``, so an interrupted assessment resumes.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from llmcert.engine import ProgressSink, RetryPolicy
from llmcert.errors import SpecError
from llmcert.models import ModelBackend, ModelIdentity
from llmcert.report import EvalResult, UnitRecord
from llmcert.scoring import ScoreStatus
from llmcert.services import _pipeline
from llmcert.services._evidence import locate_suite
from llmcert.services._request import EvalOutcome, EvalRequest
from llmcert.standards import stratified_sample
from llmcert.standards._spec import Requirement, SuiteMeasure
from llmcert.stats import Sequential, SequentialTest

#: A sequential run looks after this many new items at least.
MIN_BATCH = 10


@dataclass(frozen=True)
class SuitePlan:
    """One suite and the requirements that read it."""

    suite: str
    requirements: tuple[Requirement, ...]
    #: What to load: the built-in name, or the suite file resolved against the standard.
    location: str

    @property
    def sequential(self) -> bool:
        return all(r.rule == "sequential" for r in self.requirements)

    @property
    def samples_per_item(self) -> bool:
        """Estimated metrics (pass@k) read every repeat the suite asks for; rates read one."""
        return all(
            isinstance(r.measure, SuiteMeasure) and r.measure.estimated for r in self.requirements
        )

    @property
    def sample(self) -> int | None:
        """The most items any requirement asks for (None: the whole suite)."""
        sizes = [r.sample for r in self.requirements]
        return None if any(s is None for s in sizes) else max(s for s in sizes if s is not None)


def suite_plans(requirements: Sequence[Requirement], base: Path | None) -> list[SuitePlan]:
    """Group suite-measured requirements by suite, in the standard's order."""
    by_suite: dict[str, list[Requirement]] = {}
    for req in requirements:
        if isinstance(req.measure, SuiteMeasure):
            by_suite.setdefault(req.measure.suite, []).append(req)
    return [
        SuitePlan(name, tuple(reqs), locate_suite(name, base)) for name, reqs in by_suite.items()
    ]


def unit_matches(metadata: Mapping[str, object], group: Mapping[str, object]) -> bool:
    return all(str(metadata.get(k)) == str(v) for k, v in group.items())


def outcome_of(record: UnitRecord) -> bool | None:
    """True/False for a scored unit, None for a failed call or an unscored response."""
    score = record.score or {}
    if record.status != "ok" or score.get("status") != ScoreStatus.SCORED.value:
        return None
    value = score.get("value")
    return value is not None and float(value) >= 0.5


@dataclass(frozen=True)
class SuiteRun:
    plan: SuitePlan
    outcome: EvalOutcome
    #: For sequential plans: how many units (in draw order) each requirement used.
    used: Mapping[str, int]

    @property
    def result(self) -> EvalResult:
        return self.outcome.result


def _draw(prepared: _pipeline.Prepared, n: int | None, seed: int) -> list[int]:
    """Indices into ``prepared.prompts``: a stratified sample in a seeded random order.

    Strata are the items' risks when they carry any (a test bank), else the suite's
    first ``group_by`` field (e.g. language), so every reported group is represented.
    """
    items = [p.item for p in prepared.prompts]
    by = "risks"
    if not any(it.metadata.get("risks") for it in items) and prepared.suite.spec.group_by:
        by = prepared.suite.spec.group_by[0]
    chosen = stratified_sample(items, n, by=by, seed=seed) if n is not None else items
    wanted = {it.id for it in chosen}
    order = [i for i, p in enumerate(prepared.prompts) if p.item.id in wanted]
    random.Random(f"{seed}:{prepared.suite.digest}").shuffle(order)
    return order


class _Sequencer:
    """The sequential tests of one plan, fed units in draw order."""

    def __init__(self, plan: SuitePlan, max_items: int) -> None:
        self._tests: dict[str, tuple[Requirement, SequentialTest]] = {}
        for req in plan.requirements:
            rule = req.decision_rule()
            assert isinstance(rule, Sequential)
            assert req.threshold is not None
            test = rule.start(req.threshold, req.direction, min_n=req.min_n, max_items=max_items)
            self._tests[req.id] = (req, test)
        self.used = dict.fromkeys(self._tests, 0)
        #: Units fed so far, in draw order; ``feed`` takes only the ones after them.
        self.fed = 0

    @property
    def settled(self) -> bool:
        return all(test.verdict is not None for _, test in self._tests.values())

    def feed(self, records: Sequence[UnitRecord]) -> None:
        """Feed the next units in draw order (those after the ``fed`` already seen)."""
        for record in records:
            for rid, (req, test) in self._tests.items():
                group = req.measure.group if isinstance(req.measure, SuiteMeasure) else {}
                if test.verdict is not None or not unit_matches(record.metadata, group):
                    continue
                outcome = outcome_of(record)
                unscored = outcome is None and record.status == "ok"
                test.update(outcome, unscored=unscored)
                self.used[rid] += 1
        self.fed += len(records)


async def run_plan(
    plan: SuitePlan,
    *,
    model: ModelBackend,
    identity: ModelIdentity,
    data: Path | None,
    limit: int | None,
    concurrency: int,
    seed: int,
    journal_dir: Path,
    runs_dir: Path,
    command: Sequence[str],
    progress: ProgressSink | None,
    retry: RetryPolicy | None,
) -> SuiteRun:
    """Run one suite for its requirements; write its result.json and report.html."""
    t0, started = time.perf_counter(), datetime.now(UTC)
    request = EvalRequest(
        model=identity.ref,
        suite=plan.location,
        data=data,
        concurrency=concurrency,
        repeats=1,
        seed=seed,
        output=journal_dir,
        command=command,
    )
    prepared = _pipeline.prepare(request)
    repeats = prepared.suite.spec.repeats if plan.samples_per_item else 1
    prepared = dataclasses.replace(prepared, repeats=repeats)
    await _pipeline.check_ready(prepared, model)
    wanted = plan.sample if limit is None else min(limit, plan.sample or limit)
    order = _draw(prepared, wanted, seed)
    if not order:
        raise SpecError(f"suite {plan.suite} has no items to draw", field="sample")
    batch = len(order)
    sequencer = _Sequencer(plan, len(order)) if plan.sequential else None
    if sequencer is not None:
        batch = max(MIN_BATCH, 2 * concurrency)
    end = 0
    while True:
        end = min(len(order), end + batch)
        current = dataclasses.replace(prepared, prompts=[prepared.prompts[i] for i in order[:end]])
        executed = await _pipeline.run_units(
            request, current, identity, model, progress=progress, retry=retry
        )
        if sequencer is None or end == len(order):
            break
        fresh = executed.results[sequencer.fed :]  # earlier batches are already fed
        sequencer.feed([r.record for r in fresh])
        if sequencer.settled:
            break
    outcome = _pipeline.finish(
        dataclasses.replace(request, output=runs_dir),
        current,
        executed,
        started_at=started,
        t0=t0,
        command=command,
    )
    used: dict[str, int] = {}
    if sequencer is not None:
        sequencer.feed(outcome.result.units[sequencer.fed :])
        used = sequencer.used
    return SuiteRun(plan, outcome, used)
