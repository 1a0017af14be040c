"""Monitoring across hardware classes: a re-test on other kernels is reported, never acted on.

The certified assessment and the re-test each record the hardware class of the
in-process backend they ran on. A regression measured on another class may be
the CPU's doing, not the model's: the certificate stays valid and the finding says
why; ``--same-hardware`` refuses such a re-test before any model call.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from llmcert.registry import CertificateStatus
from llmcert.services.monitor import monitor_once
from tests.services.monitor._monitor_fixtures import (
    AVX2,
    AVX512,
    OnHardware,
    Receiver,
    factory_of,
    make_setup,
)


async def test_certified_assessment_records_its_hardware_class(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path, certified_on=AVX512)
    hardware = setup.assessment.environment.hardware_class
    assert hardware is not None
    assert "CPU:AVX512" in hardware.features
    assert hardware.engine == "llama.cpp"


async def test_regression_on_another_class_is_reported_not_suspended(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path, certified_on=AVX512)
    backend = OnHardware(AVX2, wrong=True)
    with Receiver() as receiver:
        findings = await monitor_once(
            setup.request(webhook=receiver.url), backend_factory=factory_of(backend)
        )
    assert backend.calls == 40  # re-tested all the same
    assert setup.status() == (CertificateStatus.VALID, None)
    [hardware] = [f for f in findings if f.check == "hardware"]
    assert hardware.outcome == "hardware_differs"
    assert not hardware.suspended
    assert "without CPU:AVX512" in hardware.detail
    regressed = [f for f in findings if f.outcome == "regression"]
    assert {f.requirement for f in regressed} == {"accuracy", "accuracy-zh"}
    for f in regressed:
        assert not f.suspended
        assert "not suspended: hardware class differs" in f.detail
        assert f.adjusted_p_value is not None
        assert f.adjusted_p_value <= 0.01
    # Whoever listens hears of it, as a regression nothing was done about.
    [body] = receiver.bodies
    assert body["event"] == "certificate.regression_not_acted_on"
    assert "hardware class differs" in body["reason"]


async def test_regression_on_the_same_class_still_suspends(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path, certified_on=AVX2)
    findings = await monitor_once(
        setup.request(same_hardware=True),
        backend_factory=factory_of(OnHardware(AVX2, wrong=True)),
    )
    assert not [f for f in findings if f.check == "hardware"]
    assert setup.status()[0] is CertificateStatus.SUSPENDED
    assert all(f.suspended for f in findings if f.outcome == "regression")


async def test_same_hardware_refuses_a_retest_on_another_class(tmp_path: Path) -> None:
    setup = await make_setup(tmp_path, certified_on=AVX512)
    backend = OnHardware(AVX2, wrong=True)
    findings = await monitor_once(
        setup.request(same_hardware=True), backend_factory=factory_of(backend)
    )
    assert backend.calls == 0  # refused before any model call
    assert setup.status() == (CertificateStatus.VALID, None)
    [hardware] = [f for f in findings if f.check == "hardware"]
    assert hardware.outcome == "skipped"
    assert "--same-hardware" in hardware.detail
    assert not [f for f in findings if f.check == "requirement"]


async def test_a_class_known_on_one_side_only_is_not_acted_on(tmp_path: Path) -> None:
    # Certified through an endpoint (no class), re-tested in-process.
    setup = await make_setup(tmp_path)
    findings = await monitor_once(
        setup.request(), backend_factory=factory_of(OnHardware(AVX2, wrong=True))
    )
    assert setup.status()[0] is CertificateStatus.VALID
    [hardware] = [f for f in findings if f.check == "hardware"]
    assert "only one result records its hardware class" in hardware.detail


def test_command_passes_same_hardware(tmp_path: Path) -> None:
    import asyncio

    from tests.services.monitor.test_monitor import _app

    setup = asyncio.run(make_setup(tmp_path, certified_on=AVX512))
    args = ["monitor", "--registry", setup.registry_url, "--once", "--same-hardware"]
    args += ["--output", str(setup.output)]
    # The registered reference opens a plain mock:echo, which reports no class at all.
    out = CliRunner().invoke(_app(), args)
    assert out.exit_code == 0, out.output
    assert "SKIPPED — not re-tested (--same-hardware)" in out.output
