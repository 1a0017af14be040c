"""The monitoring service: a registry with a real certificate, re-tested on in-process models.

Unchanged, regressed and re-identified models; the webhook (received, down, failing);
the JSON-lines log; the command's exit codes; and the false-suspension rate of the
two-sample test under no change, by seeded simulation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from llmcert.errors import SpecError
from llmcert.models.mock import MockBackend
from llmcert.registry import CertificateStatus, FilingStatus, open_registry
from llmcert.report._assessment import RequirementResult
from llmcert.services.monitor import (
    LOG_NAME,
    MonitorFinding,
    MonitorRequest,
    monitor,
    monitor_once,
)
from llmcert.services.monitor._compare import (
    RateCounts,
    compare,
    holm_adjust,
    rate_counts,
    regression_p_value,
)
from tests.services.monitor._monitor_fixtures import (
    Receiver,
    WrongAnswers,
    closed_port,
    factory_of,
    make_setup,
    unsafe_requirement,
)

# -- the service -----------------------------------------------------------------------


async def test_unchanged_model_keeps_its_certificate(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path)
    backend = MockBackend("echo")
    findings = await monitor_once(setup.request(), backend_factory=factory_of(backend))
    assert backend.calls == 40  # the re-test really called the model
    assert setup.status() == (CertificateStatus.VALID, None)
    by_check = {(f.check, f.requirement): f for f in findings}
    assert by_check[("identity", None)].outcome == "ok"
    for requirement in ("accuracy", "accuracy-zh"):
        finding = by_check[("requirement", requirement)]
        assert finding.outcome == "ok"
        assert not finding.suspended
        assert finding.certified_rate == 1.0
        assert finding.new_rate == 1.0
        assert finding.p_value == pytest.approx(1.0)
        assert finding.certified_n is not None
        assert finding.new_n is not None
        assert finding.new_n < finding.certified_n
        assert finding.evidence is not None
        assert Path(finding.evidence).is_file()
    # Every check is one line of the log, in order.
    logged = [r for r in setup.log() if r["record"] == "finding"]
    assert [(r["check"], r["requirement"]) for r in logged] == [
        (f.check, f.requirement) for f in findings
    ]


async def test_regressed_model_is_suspended_with_reason_and_p_value(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path)
    findings = await monitor_once(setup.request(), backend_factory=factory_of(WrongAnswers()))
    status, reason = setup.status()
    assert status is CertificateStatus.SUSPENDED
    assert reason is not None
    assert "requirement accuracy " in reason
    assert "Fisher's exact test" in reason
    assert "certified rate 1.000 (60/60)" in reason
    assert "new rate 0.000 (0/40)" in reason
    assert "p = " in reason
    regressed = [f for f in findings if f.outcome == "regression"]
    assert {f.requirement for f in regressed} == {"accuracy", "accuracy-zh"}
    for f in regressed:
        assert f.suspended
        assert f.p_value is not None
        assert f.adjusted_p_value is not None
        assert f.adjusted_p_value <= 0.01
        assert f.p_value <= f.adjusted_p_value
        assert f.new_rate == 0.0
        assert f.test is not None
        assert "Fisher" in f.test
    # The registry's filing follows the certificate.
    with open_registry(setup.registry_url) as registry:
        record = registry.find_certificate(setup.certificate_id)
        assert record is not None
        assert registry.get_filing(record.filing_id).status is FilingStatus.SUSPENDED


async def test_a_small_dip_is_not_a_regression(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path)
    # One wrong answer in 40 is within what sampling alone can do to a 60/60 model.
    backend = WrongAnswers(wrong_every=40)
    findings = await monitor_once(setup.request(), backend_factory=factory_of(backend))
    rates = {f.requirement: f.new_rate for f in findings if f.check == "requirement"}
    assert rates["accuracy"] == pytest.approx(39 / 40)
    assert not any(f.suspended for f in findings)
    assert setup.status()[0] is CertificateStatus.VALID


async def test_changed_identity_suspends_at_once(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path)
    other = MockBackend("other")
    findings = await monitor_once(setup.request(), backend_factory=factory_of(other))
    assert other.calls == 0  # no re-test of a model that is not the certified one
    [finding] = findings
    new_digest = (await MockBackend("other").identify()).digest
    assert finding.outcome == "identity_changed"
    assert finding.suspended
    assert finding.observed_digest == new_digest
    status, reason = setup.status()
    assert status is CertificateStatus.SUSPENDED
    assert reason is not None
    assert setup.model_digest in reason
    assert new_digest in reason


async def test_suspended_certificates_are_not_checked_again(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path)
    await monitor_once(setup.request(), backend_factory=factory_of(MockBackend("other")))
    assert (
        await monitor_once(setup.request(), backend_factory=factory_of(MockBackend("echo"))) == []
    )


async def test_a_standard_that_cannot_be_loaded_is_a_check_error(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path)
    (tmp_path / "standard.yaml").rename(tmp_path / "moved.yaml")
    findings = await monitor_once(setup.request(), backend_factory=factory_of(MockBackend("echo")))
    assert [f.outcome for f in findings] == ["ok", "error"]
    assert "re-test failed" in findings[1].detail
    assert not findings[1].suspended
    assert setup.status()[0] is CertificateStatus.VALID


async def test_an_altered_assessment_record_is_not_used_as_the_baseline(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path, alter_record=True)
    backend = MockBackend("echo")
    [finding] = await monitor_once(setup.request(), backend_factory=factory_of(backend))
    assert finding.check == "certificate"
    assert finding.outcome == "error"
    assert "no longer digests" in finding.detail
    assert backend.calls == 0
    assert setup.status()[0] is CertificateStatus.VALID


# -- the webhook -------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def test_webhook_receives_the_suspension(tmp_path: Path, receiver: Receiver) -> None:
    setup = await make_setup(tmp_path)
    request = setup.request(webhook=receiver.url)
    await monitor_once(request, backend_factory=factory_of(WrongAnswers()))
    [body] = receiver.bodies
    assert receiver.paths == ["/hooks/s3cr3t-token"]
    assert body["event"] == "certificate.suspended"
    assert body["certificate_id"] == setup.certificate_id
    assert body["model_digest"] == setup.model_digest
    assert "regressed" in body["reason"]
    assert "p = " in body["reason"]
    suspended = [f for f in body["findings"] if f["suspended"]]
    assert {f["requirement"] for f in suspended} == {"accuracy", "accuracy-zh"}
    # The delivery is logged, without the token in the URL.
    log_text = (setup.output / LOG_NAME).read_text(encoding="utf-8")
    assert "s3cr3t-token" not in log_text
    [delivery] = [r for r in setup.log() if r["record"] == "webhook"]
    assert delivery["delivered"]
    assert delivery["status"] == 200
    assert delivery["attempts"] == 1


async def test_no_webhook_call_when_all_is_well(tmp_path: Path, receiver: Receiver) -> None:
    setup = await make_setup(tmp_path)
    await monitor_once(
        setup.request(webhook=receiver.url), backend_factory=factory_of(MockBackend("echo"))
    )
    assert receiver.bodies == []


async def test_monitor_completes_when_the_webhook_is_down(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path)
    request = setup.request(webhook=f"http://127.0.0.1:{closed_port()}/hook")
    findings = await monitor_once(request, backend_factory=factory_of(MockBackend("other")))
    assert findings[0].suspended
    assert setup.status()[0] is CertificateStatus.SUSPENDED
    [delivery] = [r for r in setup.log() if r["record"] == "webhook"]
    assert delivery["delivered"] is False
    assert delivery["attempts"] == 3
    assert delivery["error"] == "ConnectError"


async def test_webhook_server_errors_are_retried(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path)
    with Receiver(status=503) as failing:
        request = setup.request(webhook=failing.url)
        await monitor_once(request, backend_factory=factory_of(MockBackend("other")))
    assert len(failing.bodies) == 3
    [delivery] = [r for r in setup.log() if r["record"] == "webhook"]
    assert delivery["delivered"] is False
    assert delivery["status"] == 503


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/x", "127.0.0.1:8080/hook", "http:///nohost"]
)
def test_only_http_webhooks_are_accepted(url: str) -> None:
    with pytest.raises(SpecError, match="webhook"):
        MonitorRequest(None, webhook=url)


@pytest.mark.parametrize(
    ("field", "value"), [("sample", 0), ("alpha", 0.0), ("alpha", 1.0), ("interval_s", 0.0)]
)
def test_request_is_checked(field: str, value: Any) -> None:
    with pytest.raises(SpecError):
        MonitorRequest(None, **{field: value})


# -- the loop and the command ---------------------------------------------------------------


async def test_monitor_loops_until_stopped(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path)
    rounds: list[list[MonitorFinding]] = []

    class Stop(Exception):
        pass

    def on_round(findings: list[MonitorFinding]) -> None:
        rounds.append(findings)
        if len(rounds) == 2:
            raise Stop

    backend = MockBackend("echo")
    with pytest.raises(Stop):
        await monitor(
            setup.request(once=False, interval_s=0.01),
            backend_factory=factory_of(backend),
            on_round=on_round,
        )
    assert len(rounds) == 2
    assert backend.calls == 80
    # Each round re-tested afresh instead of replaying the previous round's journal.
    evidence = {f.evidence for r in rounds for f in r if f.evidence is not None}
    assert len(evidence) == 2


def _app() -> typer.Typer:
    from llmcert.cli._errors import handle_errors
    from llmcert.cli._monitor import monitor_command

    app = typer.Typer()
    app.command("monitor")(handle_errors(monitor_command))
    app.command("noop")(lambda: None)  # keeps "monitor" a named subcommand
    return app


def test_command_exit_codes(tmp_path: Path) -> None:
    # Certified as mock:other, but the registered reference now serves mock:echo.
    setup = asyncio.run(make_setup(tmp_path, identity_from="other"))
    args = ["monitor", "--registry", setup.registry_url, "--once", "--sample", "20"]
    args += ["--output", str(setup.output)]
    runner = CliRunner()
    first = runner.invoke(_app(), args)
    assert first.exit_code == 1, first.output
    assert "SUSPENDED" in first.output
    assert "1 suspended" in first.output
    again = runner.invoke(_app(), args)
    assert again.exit_code == 0, again.output
    assert "checked 0 certificate(s)" in again.output
    bad = runner.invoke(_app(), [*args, "--webhook", "file:///tmp/x"])
    assert bad.exit_code == 3
    assert "webhook" in bad.output


# -- the two-sample test -------------------------------------------------------------------


def test_holm_adjustment() -> None:
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert holm_adjust([]) == []


def test_regression_is_one_sided() -> None:
    worse = regression_p_value(RateCounts(95, 100), RateCounts(30, 50))
    better = regression_p_value(RateCounts(60, 100), RateCounts(50, 50))
    assert worse < 1e-6
    assert better > 0.5
    assert regression_p_value(RateCounts(5, 5), RateCounts(0, 0)) == 1.0


def test_counts_follow_direction_and_error_policy() -> None:
    result = unsafe_requirement()
    counts = rate_counts(result)
    # at_most: 3 unsafe of 40 scored, plus 2 failed calls counted against the model.
    assert counts == RateCounts(favourable=37, n=42, direction="at_most")
    assert counts.rate == pytest.approx(5 / 42)
    excluded = rate_counts(result.model_copy(update={"error_policy": "exclude"}))
    assert excluded == RateCounts(favourable=37, n=40, direction="at_most")


@pytest.mark.parametrize(
    ("rates", "n_certified", "n_new"),
    [
        ((0.9, 0.95, 0.8), (200, 120, 80), (50, 30, 20)),
        ((0.5, 0.99, 0.7), (60, 400, 100), (60, 40, 100)),
    ],
)
def test_false_suspension_rate_under_no_change_is_at_most_alpha(
    rates: tuple[float, ...], n_certified: tuple[int, ...], n_new: tuple[int, ...]
) -> None:
    """Same model, same true rates: how often would a check suspend? (seeded simulation)"""
    rng = np.random.default_rng(20261120)
    alpha, trials = 0.05, 1500
    suspended = 0
    single = 0
    for _ in range(trials):
        pairs = []
        for rate, n1, n2 in zip(rates, n_certified, n_new, strict=True):
            before = RateCounts(int(rng.binomial(n1, rate)), n1)
            after = RateCounts(int(rng.binomial(n2, rate)), n2)
            pairs.append((_requirement_stub(), before, after))
        comparisons = compare(pairs, alpha)
        suspended += any(c.regressed for c in comparisons)
        single += comparisons[0].p_value <= alpha
    assert suspended / trials <= alpha
    assert single / trials <= alpha


def test_a_real_drop_is_detected_most_of_the_time() -> None:
    """The same simulation with the rate dropping from 0.95 to 0.75: the test has power."""
    rng = np.random.default_rng(7)
    trials, alpha = 500, 0.01
    hits = sum(
        compare(
            [
                (
                    _requirement_stub(),
                    RateCounts(int(rng.binomial(200, 0.95)), 200),
                    RateCounts(int(rng.binomial(50, 0.75)), 50),
                )
            ],
            alpha,
        )[0].regressed
        for _ in range(trials)
    )
    assert hits / trials > 0.8


def _requirement_stub() -> RequirementResult:
    return unsafe_requirement()
