"""The monitoring service: keep re-testing certified models, suspend on change or regression.

For every valid certificate in the registry, one check:

1. the model is identified again; a different identity digest means the model
   under the certificate is no longer the one assessed, and the certificate is
   suspended at once;
2. otherwise the certified standard is assessed again on a small sample
   (``sample`` items per suite), and each suite requirement's new counts are
   compared with the certified assessment's by a one-sided two-sample test, with
   Holm's correction across the certificate's requirements
   (:mod:`llmcert.services.monitor._compare`); a significant regression
   suspends the certificate, naming requirement, rates, p-value and test;
3. an in-process model's answers depend on the hardware class it runs on
   (``report._hardware``): a re-test on another class than the certified
   assessment's is reported as such, and a regression it finds is reported but
   does not suspend; with ``same_hardware`` such a re-test is not run at all.

Every check is a line of ``monitor.jsonl`` under ``output``, and each new
assessment (with the responses behind it) is kept beside it as evidence. A
webhook, if configured, hears of every suspension and every check that could
not be carried out.

``alpha`` bounds the chance that one check suspends an unchanged model. Checks
repeat, so over many rounds false suspensions add up (about ``rounds × alpha``
at most); the small default keeps that low, and a suspension is a reversible
step an assessor reviews, not a revocation.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcert._hashing import short
from llmcert.errors import LlmcertError, SpecError
from llmcert.models import ModelBackend, ModelRef, open_backend
from llmcert.report import hardware_difference
from llmcert.services._hardware import hardware_class
from llmcert.services._sync import run_sync
from llmcert.services.monitor._check import (
    ACTOR,
    CheckContext,
    MonitorFinding,
    compare_requirements,
    suspend,
)
from llmcert.services.monitor._notify import JsonLinesLog, check_webhook_url, post_webhook

if TYPE_CHECKING:
    from llmcert.registry import CertificateRecord, Registry
    from llmcert.services.monitor._certified import Certified

log = logging.getLogger(__name__)

LOG_NAME = "monitor.jsonl"

BackendFactory = Callable[[ModelRef], ModelBackend]


@dataclass(frozen=True)
class MonitorRequest:
    #: Registry database URL (None: ``LLMCERT_DATABASE_URL`` or the default file).
    registry_url: str | None
    #: Items drawn per suite for each re-test.
    sample: int = 50
    #: Family-wise false-suspension rate per certificate per check.
    alpha: float = 0.01
    #: http(s) URL that receives a JSON POST for each suspension or failed check.
    webhook: str | None = None
    #: Item-sampling seed; None draws a fresh sample each check (recorded in the log).
    seed: int | None = None
    output: Path = Path("llmcert-monitor")
    once: bool = False
    interval_s: float = 3600.0
    #: Local dataset copies by suite name, for suites built on importers.
    data: Mapping[str, Path] = field(default_factory=dict)
    concurrency: int = 8
    #: Refuse to re-test on another hardware class than the certified assessment's.
    same_hardware: bool = False

    def __post_init__(self) -> None:
        if self.sample < 1:
            raise SpecError("the monitoring sample must be at least 1 item", field="sample")
        if not 0.0 < self.alpha < 1.0:
            raise SpecError(
                f"alpha must lie strictly between 0 and 1, not {self.alpha}", field="alpha"
            )
        if not self.interval_s > 0:
            raise SpecError("the monitoring interval must be positive", field="interval_s")
        if self.concurrency < 1:
            raise SpecError("concurrency must be at least 1", field="concurrency")
        if self.webhook is not None:
            check_webhook_url(self.webhook)


async def monitor_once(
    request: MonitorRequest,
    *,
    backend_factory: BackendFactory | None = None,
    now: datetime | None = None,
) -> list[MonitorFinding]:
    """Check every valid certificate once; suspends where the checks demand it."""
    from llmcert.registry import open_registry

    if now is not None and now.utcoffset() is None:
        raise SpecError("'now' must be timezone-aware")
    moment = (now if now is not None else datetime.now(UTC)).astimezone(UTC)
    factory = backend_factory if backend_factory is not None else open_backend
    journal = JsonLinesLog(request.output / LOG_NAME)
    findings: list[MonitorFinding] = []
    registry = open_registry(request.registry_url)
    try:
        for certificate in _valid_certificates(registry):
            try:
                found = await _check_certificate(registry, certificate, request, factory, moment)
            except Exception as exc:  # one certificate's failure must not end the round
                log.exception("checking certificate %s failed", certificate.id)
                ctx = CheckContext(certificate, moment, request.alpha)
                detail = f"unexpected failure: {type(exc).__name__}: {exc}"
                found = [ctx.finding("certificate", "error", detail)]
            for finding in found:
                journal.append({"record": "finding", **finding.to_dict()})
            findings.extend(found)
            await _notify(request, certificate, found, journal)
    finally:
        registry.close()
    return findings


async def monitor(
    request: MonitorRequest,
    *,
    backend_factory: BackendFactory | None = None,
    on_round: Callable[[list[MonitorFinding]], None] | None = None,
) -> list[MonitorFinding]:
    """Check, then wait ``interval_s`` and check again, until cancelled (or once, if asked).

    A round that cannot run at all (the registry unreachable) raises and ends the
    loop, to be restarted by whatever supervises the process; a single
    certificate's failure is a finding and does not.
    """
    while True:
        findings = await monitor_once(request, backend_factory=backend_factory)
        if on_round is not None:
            on_round(findings)
        if request.once:
            return findings
        await asyncio.sleep(request.interval_s)


def monitor_sync(request: MonitorRequest, **kwargs: Any) -> list[MonitorFinding]:
    return run_sync(monitor(request, **kwargs))


def _valid_certificates(registry: Registry) -> list[CertificateRecord]:
    """All of them, read before any is suspended (paging must not shift under our feet)."""
    page, offset, out = 500, 0, []
    while True:
        batch = registry.search_certificates(status="valid", limit=page, offset=offset)
        out.extend(batch)
        if len(batch) < page:
            return sorted(out, key=lambda c: (c.issued_at, c.id))
        offset += page


async def _check_certificate(
    registry: Registry,
    certificate: CertificateRecord,
    request: MonitorRequest,
    factory: BackendFactory,
    moment: datetime,
) -> list[MonitorFinding]:
    from llmcert.services.monitor._certified import load_certified

    ctx = CheckContext(certificate, moment, request.alpha)
    if certificate.expires_at.astimezone(UTC) <= moment:
        return [ctx.finding("certificate", "skipped", "the certificate's validity has ended")]
    try:
        certified = load_certified(registry, certificate)
        backend = factory(ModelRef.parse(certified.model.ref))
    except LlmcertError as exc:
        return [ctx.finding("certificate", "error", f"cannot check: {exc}")]
    try:
        return await _check_model(registry, certified, backend, request, ctx, moment)
    finally:
        await backend.aclose()


async def _check_model(
    registry: Registry,
    certified: Certified,
    backend: ModelBackend,
    request: MonitorRequest,
    ctx: CheckContext,
    moment: datetime,
) -> list[MonitorFinding]:
    from llmcert.services.assess import AssessRequest, assess

    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    try:
        identity = await backend.identify()
    except LlmcertError as exc:
        return [ctx.finding("identity", "error", f"the model could not be identified: {exc}")]
    old, new = ctx.certificate.model_digest, identity.digest
    if new != old:
        reason = (
            f"model identity changed: certified digest {old}, now {new} "
            f"({identity.kind} {identity.ref})"
        )
        return [suspend(registry, ctx, reason, "identity", "identity_changed", observed_digest=new)]
    findings = [ctx.finding("identity", "ok", "identity unchanged", observed_digest=new)]
    if request.same_hardware:
        here = await asyncio.to_thread(hardware_class, backend)
        difference = hardware_difference(certified.assessment.environment.hardware_class, here)
        if difference is not None:
            findings.append(
                ctx.finding("hardware", "skipped", f"not re-tested (--same-hardware): {difference}")
            )
            return findings

    stamp = moment.strftime("%Y%m%dT%H%M%SZ")
    out_dir = (
        request.output
        / "checks"
        / f"{stamp}-{_safe_name(ctx.certificate.id)}-{secrets.token_hex(3)}"
    )
    certified_assessment = certified.assessment
    try:
        outcome = await assess(
            AssessRequest(
                model=certified.model.ref,
                standard=certified_assessment.standard.source,
                data=request.data,
                not_applicable=certified.not_applicable,
                limit=request.sample,
                concurrency=request.concurrency,
                seed=seed,
                output=out_dir,
                command=("monitor", ctx.certificate.id),
            ),
            backend=backend,
        )
    except LlmcertError as exc:
        findings.append(ctx.finding("requirement", "error", f"re-test failed: {exc}", seed=seed))
        return findings
    evidence = str(outcome.json_path)
    fresh = outcome.assessment
    if fresh.standard.digest != certified_assessment.standard.digest:
        findings.append(
            ctx.finding(
                "requirement",
                "error",
                f"the standard {certified_assessment.standard.source!r} has changed since "
                f"certification (digest {short(certified_assessment.standard.digest)} → "
                f"{short(fresh.standard.digest)}); the samples cannot be compared",
                seed=seed,
                evidence=evidence,
            )
        )
        return findings
    difference = hardware_difference(
        certified_assessment.environment.hardware_class, fresh.environment.hardware_class
    )
    if difference is not None:
        findings.append(
            ctx.finding(
                "hardware",
                "hardware_differs",
                f"{difference}; a regression on this class is reported, not acted on",
                seed=seed,
                evidence=evidence,
            )
        )
    findings.extend(
        compare_requirements(
            registry, certified, fresh.requirements, ctx, seed, evidence, hold=difference
        )
    )
    return findings


def _safe_name(certificate_id: str) -> str:
    """A directory-name-safe prefix of a certificate id (ids are chosen by the issuer)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", certificate_id)[:16] or "certificate"


async def _notify(
    request: MonitorRequest,
    certificate: CertificateRecord,
    findings: Sequence[MonitorFinding],
    journal: JsonLinesLog,
) -> None:
    if request.webhook is None:
        return
    suspended = [f for f in findings if f.suspended]
    failed = [f for f in findings if f.outcome == "error"]
    held = [f for f in findings if f.outcome == "regression" and not f.suspended]
    if suspended:
        event, reasons = "certificate.suspended", suspended
    elif failed:
        event, reasons = "certificate.check_failed", failed
    elif held:
        event, reasons = "certificate.regression_not_acted_on", held
    else:
        return
    payload = {
        "event": event,
        "certificate_id": certificate.id,
        "standard": certificate.standard_ref,
        "model_digest": certificate.model_digest,
        "checked_at": findings[0].checked_at,
        "reason": "; ".join(f.detail for f in reasons),
        "findings": [f.to_dict() for f in findings],
    }
    delivery = await post_webhook(request.webhook, payload)
    journal.append(
        {
            "record": "webhook",
            "certificate_id": certificate.id,
            "event": event,
            **delivery.to_dict(),
        }
    )


__all__ = [
    "ACTOR",
    "LOG_NAME",
    "BackendFactory",
    "MonitorFinding",
    "MonitorRequest",
    "monitor",
    "monitor_once",
    "monitor_sync",
]
