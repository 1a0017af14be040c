"""The executor against in-process backends: bounded, retried, nothing dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmcert.engine import (
    Journal,
    PlannedRequest,
    RetryPolicy,
    StartedCalls,
    execute,
    plan_requests,
    plan_units,
    render_prompts,
)
from llmcert.errors import AuthenticationError, RequestRejected, ServerError
from llmcert.models import GenerateRequest, Generation, ModelIdentity
from llmcert.models.mock import MockBackend
from llmcert.suites import load_suite

FAST = RetryPolicy(base_delay=0.001, max_attempts=3)


class Flaky(MockBackend):
    """Fails some prompts always, some only on their first attempt; counts concurrency."""

    def __init__(
        self, always: set[str], once: set[str], fatal: type[Exception] | None = None
    ) -> None:
        super().__init__("echo")
        self.always, self.once, self.fatal = always, once, fatal
        self.seen: dict[tuple[str, int | None], int] = {}
        self.in_flight = self.peak = 0

    async def generate(self, request: GenerateRequest) -> Generation:
        assert request.messages is not None
        text = request.messages[-1].content
        attempt = (text, request.seed)  # repeats share the text but not the seed
        self.seen[attempt] = self.seen.get(attempt, 0) + 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.002)
            if self.fatal is not None and text == "say 5":
                raise self.fatal("denied")
            if text in self.always or (text in self.once and self.seen[attempt] == 1):
                raise ServerError("HTTP 503")
            return await super().generate(request)
        finally:
            self.in_flight -= 1


IDENT = ModelIdentity(kind="synthetic", ref="mock:flaky")


async def test_every_unit_is_recorded_once_and_errors_are_kept(
    tiny_suite: Path, tmp_path: Path
) -> None:
    units = plan_units(load_suite(tiny_suite), IDENT, kind="generate", seed=0, repeats=2)
    backend = Flaky(always={"say 3"}, once={"say 4"})
    with Journal(tmp_path / "j.sqlite") as journal:
        stats = await execute(units, backend, journal, run_id="r", concurrency=4, retry=FAST)
        entries = journal.lookup(u.key for u in units)
    assert len(entries) == len(units) == stats.sent
    failed = [u for u in units if entries[u.key].status == "error"]
    assert {u.item.id for u in failed} == {"q3"}
    assert len(failed) == 2
    assert all(entries[u.key].attempts == 3 for u in failed)
    assert stats.errors == 2
    assert all(entries[u.key].attempts == 2 for u in units if u.item.id == "q4")
    assert stats.retries == 2 * 2 + 2  # q3: 2 retries × 2 repeats; q4: 1 retry × 2 repeats


async def test_concurrency_is_bounded_and_used(tiny_suite: Path, tmp_path: Path) -> None:
    units = plan_units(load_suite(tiny_suite), IDENT, kind="generate", seed=0, repeats=4)
    backend = Flaky(set(), set())
    with Journal(tmp_path / "j.sqlite") as journal:
        await execute(units, backend, journal, run_id="r", concurrency=5, retry=FAST)
    assert backend.peak == 5


async def test_backend_limit_caps_concurrency(tiny_suite: Path, tmp_path: Path) -> None:
    units = plan_units(load_suite(tiny_suite), IDENT, kind="generate", seed=0, repeats=1)
    backend = Flaky(set(), set())
    backend.max_concurrency = 1
    with Journal(tmp_path / "j.sqlite") as journal:
        await execute(units, backend, journal, run_id="r", concurrency=16, retry=FAST)
    assert backend.peak == 1


async def test_authentication_failure_stops_the_run(tiny_suite: Path, tmp_path: Path) -> None:
    units = plan_units(load_suite(tiny_suite), IDENT, kind="generate", seed=0, repeats=1)
    backend = Flaky(set(), set(), fatal=AuthenticationError)
    with Journal(tmp_path / "j.sqlite") as journal, pytest.raises(AuthenticationError):
        await execute(units, backend, journal, run_id="r", concurrency=2, retry=FAST)


async def test_a_rejected_request_is_recorded_not_fatal(tiny_suite: Path, tmp_path: Path) -> None:
    units = plan_units(load_suite(tiny_suite), IDENT, kind="generate", seed=0, repeats=1)
    backend = Flaky(set(), set(), fatal=RequestRejected)
    with Journal(tmp_path / "j.sqlite") as journal:
        stats = await execute(units, backend, journal, run_id="r", concurrency=2, retry=FAST)
        entries = journal.lookup(u.key for u in units)
    assert stats.errors == 1
    (bad,) = [e for e in entries.values() if e.status == "error"]
    assert bad.error_kind == "RequestRejected"
    assert bad.attempts == 1


async def test_started_calls_are_taken_over_not_sent_again(
    tiny_suite: Path, tmp_path: Path
) -> None:
    suite = load_suite(tiny_suite)
    prompts = render_prompts(suite, kind="generate")
    backend = Flaky(set(), once={"say 1"})
    first = plan_requests(
        suite, kind="generate", seed=0, repeats=2, prompts=prompts, nonce="n", limit=3
    )
    started = StartedCalls(backend, first, retry=FAST)
    await asyncio.sleep(0.01)  # the first calls are out before the units are keyed
    assert sum(backend.seen.values()) >= 3
    units = plan_units(suite, IDENT, kind="generate", seed=0, repeats=2, prompts=prompts, nonce="n")
    recorded: list[str] = []
    with Journal(tmp_path / "j.sqlite") as journal:
        stats = await execute(
            units, backend, journal, run_id="r", concurrency=3, retry=FAST, started=started,
            on_recorded=lambda u: recorded.append(u.key),
        )  # fmt: skip
        entries = journal.lookup(u.key for u in units)
    # Every unit answered once: 'say 1' twice (a retry) per repeat, every other prompt once.
    assert sorted(recorded) == sorted(u.key for u in units)
    assert all(e.status == "ok" for e in entries.values())
    assert {e.request_key for e in entries.values()} == {u.request_key for u in units}
    assert len(backend.seen) == len(units)
    assert all(n == (2 if text == "say 1" else 1) for (text, _), n in backend.seen.items())
    assert stats.sent == len(units)
    assert stats.retries == 2


async def test_started_calls_not_taken_are_cancelled(tiny_suite: Path, tmp_path: Path) -> None:
    suite = load_suite(tiny_suite)
    prompts = render_prompts(suite, kind="generate")
    backend = Flaky(set(), set())
    stray = plan_requests(suite, kind="generate", seed=0, repeats=1, prompts=prompts, nonce="x")
    started = StartedCalls(backend, stray[:2], retry=FAST)
    units = plan_units(suite, IDENT, kind="generate", seed=0, repeats=1, prompts=prompts, nonce="n")
    with Journal(tmp_path / "j.sqlite") as journal:
        await execute(units[:1], backend, journal, run_id="r", concurrency=1, started=started)
        assert journal.count() == 1  # the stray calls' answers are never recorded
    assert started.take(stray[0].request_key) is None


async def test_started_calls_with_a_limit_refill_until_taken_over(
    tiny_suite: Path, tmp_path: Path
) -> None:
    suite = load_suite(tiny_suite)
    prompts = render_prompts(suite, kind="generate")
    backend = Flaky(set(), set())
    planned = plan_requests(suite, kind="generate", seed=0, repeats=3, prompts=prompts, nonce="n")
    drawn: list[str] = []

    def one_by_one() -> Iterator[PlannedRequest]:
        for p in planned:
            drawn.append(p.request_key)
            yield p

    started = StartedCalls(backend, one_by_one(), retry=FAST, limit=2)
    assert len(drawn) == 2
    await asyncio.sleep(0.05)  # the model is still being identified: answers start more calls
    assert len(drawn) > 2
    units = plan_units(suite, IDENT, kind="generate", seed=0, repeats=3, prompts=prompts, nonce="n")
    with Journal(tmp_path / "j.sqlite") as journal:
        stats = await execute(
            units, backend, journal, run_id="r", concurrency=2, retry=FAST, started=started
        )
        assert journal.count() == len(units)
    assert backend.peak == 2
    assert len(backend.seen) == len(units)
    assert all(n == 1 for n in backend.seen.values())  # nothing sent twice
    assert stats.sent == len(units)
