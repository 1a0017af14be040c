"""One certificate's check, as findings: the record of what was compared and what was done.

A finding is written for every check, passed or not, so the log shows that a
certificate was watched, not only when it was suspended. Suspension happens
here too, in one registry transaction per certificate, whatever the number of
requirements that regressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from llmcert.errors import LlmcertError
from llmcert.report._assessment import RequirementResult
from llmcert.services.monitor._compare import TEST_NAME, compare, rate_counts

if TYPE_CHECKING:
    from llmcert.registry import CertificateRecord, Registry
    from llmcert.services.monitor._certified import Certified

#: Who the registry's audit log names for the monitor's changes.
ACTOR = "llmcert-monitor"
#: The registry accepts reasons up to this length.
MAX_REASON = 2000

Check = Literal["certificate", "identity", "hardware", "requirement"]
Outcome = Literal["ok", "regression", "identity_changed", "hardware_differs", "skipped", "error"]


@dataclass(frozen=True)
class MonitorFinding:
    """One check on one certificate; rates are in the requirement's own terms."""

    certificate_id: str
    checked_at: str
    check: Check
    outcome: Outcome
    suspended: bool
    detail: str
    standard: str = ""
    certified_digest: str | None = None
    observed_digest: str | None = None
    requirement: str | None = None
    certified_rate: float | None = None
    certified_n: int | None = None
    new_rate: float | None = None
    new_n: int | None = None
    p_value: float | None = None
    adjusted_p_value: float | None = None
    test: str | None = None
    alpha: float | None = None
    seed: int | None = None
    evidence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CheckContext:
    """What every finding of one certificate's check shares."""

    def __init__(self, certificate: CertificateRecord, moment: datetime, alpha: float) -> None:
        self.certificate = certificate
        self.checked_at = moment.isoformat()
        self.alpha = alpha

    def finding(self, check: Check, outcome: Outcome, detail: str, **fields: Any) -> MonitorFinding:
        return MonitorFinding(
            certificate_id=self.certificate.id,
            checked_at=self.checked_at,
            check=check,
            outcome=outcome,
            suspended=fields.pop("suspended", False),
            detail=detail,
            standard=self.certificate.standard_ref,
            certified_digest=self.certificate.model_digest,
            alpha=self.alpha,
            **fields,
        )


def compare_requirements(
    registry: Registry,
    certified: Certified,
    fresh: Sequence[RequirementResult],
    ctx: CheckContext,
    seed: int,
    evidence: str,
    *,
    hold: str | None = None,
) -> list[MonitorFinding]:
    """Test every suite requirement the certificate was issued on; suspend on regression.

    ``hold`` says why a regression must not suspend (the re-test ran on another
    hardware class): it is then reported with that reason, and nothing changes.
    """
    new_by_id = {r.id: r for r in fresh}
    pairs, findings = [], []
    for old in certified.assessment.requirements:
        before = rate_counts(old)
        if before is None:
            continue
        now_result = new_by_id.get(old.id)
        after = rate_counts(now_result) if now_result is not None else None
        if after is None or after.n == 0 or before.n == 0:
            findings.append(
                ctx.finding(
                    "requirement",
                    "skipped",
                    "no outcomes to compare",
                    requirement=old.id,
                    seed=seed,
                    evidence=evidence,
                )
            )
            continue
        pairs.append((old, before, after))
    comparisons = compare(pairs, ctx.alpha) if pairs else []
    regressed = [c for c in comparisons if c.regressed]
    suspended = False
    if regressed and hold is None:
        reason = "; ".join(c.reason() for c in regressed)
        suspended = _try_suspend(registry, ctx, reason, findings)
    held = f" — not suspended: {hold}" if hold is not None else ""
    for c in comparisons:
        findings.append(
            ctx.finding(
                "requirement",
                "regression" if c.regressed else "ok",
                c.reason() + held
                if c.regressed
                else (
                    f"no significant regression: certified {c.certified.words()}, "
                    f"new {c.observed.words()}"
                ),
                suspended=suspended and c.regressed,
                requirement=c.requirement,
                certified_rate=c.certified.rate,
                certified_n=c.certified.n,
                new_rate=c.observed.rate,
                new_n=c.observed.n,
                p_value=c.p_value,
                adjusted_p_value=c.adjusted_p_value,
                test=TEST_NAME,
                seed=seed,
                evidence=evidence,
            )
        )
    return findings


def _reason_text(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def _try_suspend(
    registry: Registry, ctx: CheckContext, reason: str, findings: list[MonitorFinding]
) -> bool:
    from llmcert.registry import CertificateStatus

    try:
        registry.set_certificate_status(
            ctx.certificate.id,
            CertificateStatus.SUSPENDED,
            reason=_reason_text(reason),
            actor=ACTOR,
        )
    except LlmcertError as exc:
        findings.append(ctx.finding("certificate", "error", f"could not suspend: {exc}"))
        return False
    return True


def suspend(
    registry: Registry,
    ctx: CheckContext,
    reason: str,
    check: Check,
    outcome: Outcome,
    **fields: Any,
) -> MonitorFinding:
    errors: list[MonitorFinding] = []
    done = _try_suspend(registry, ctx, reason, errors)
    detail = reason if done else f"{reason} (suspension failed: {errors[0].detail})"
    return ctx.finding(check, outcome, detail, suspended=done, **fields)


__all__ = [
    "ACTOR",
    "MAX_REASON",
    "Check",
    "CheckContext",
    "MonitorFinding",
    "Outcome",
    "compare_requirements",
    "suspend",
]
