"""The supply-chain gate of certification: scan local artefacts before any model call.

A blocking finding refuses certification outright; so does a local model whose
artefacts cannot be found, since "not scanned" must not read as "clean". A
remote endpoint or a synthetic model has no artefacts here: the check is
recorded as not applicable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from llmcert.models._types import ModelIdentity
    from llmcert.supplychain.scan import ScanReport


@dataclass(frozen=True)
class Reason:
    """Why a certificate was not issued: a requirement's verdict or a scan finding."""

    source: Literal["requirement", "supply-chain"]
    id: str
    status: str
    explanation: str

    def to_dict(self) -> dict[str, str]:
        return {
            "source": self.source,
            "id": self.id,
            "status": self.status,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class SupplyChainCheck:
    status: Literal["clean", "blocked", "not_applicable", "unavailable"]
    detail: str
    report: ScanReport | None = None

    @property
    def blocks(self) -> bool:
        return self.status in ("blocked", "unavailable")


def scan_model(identity: ModelIdentity, fail_on: str) -> SupplyChainCheck:
    """Scan what is on disk; a remote or synthetic model has nothing to scan."""
    from llmcert.supplychain.scan import scan_path

    if identity.kind == "endpoint":
        return SupplyChainCheck("not_applicable", "not applicable: remote model")
    if identity.kind == "synthetic":
        return SupplyChainCheck("not_applicable", "not applicable: synthetic model, no artefacts")
    where = identity.artefact_path
    if not where or not Path(where).exists():
        return SupplyChainCheck(
            "unavailable", "the model's artefacts could not be located, so they were not scanned"
        )
    report = scan_path(where, fail_on=fail_on)
    s = report.summary
    if report.blocking:
        detail = f"{s.blocking} blocking finding(s) at --fail-on {fail_on} in {s.files} file(s)"
        return SupplyChainCheck("blocked", detail, report)
    detail = (
        f"no blocking findings at {fail_on} in {s.files} file(s) ({s.findings} below the threshold)"
    )
    return SupplyChainCheck("clean", detail, report)


def scan_reasons(check: SupplyChainCheck) -> list[Reason]:
    """One reason per blocking problem and place (two engines may report the same one)."""
    if check.status == "unavailable":
        return [Reason("supply-chain", "artefacts-not-scanned", "unavailable", check.detail)]
    if check.report is None:
        return []
    reasons: dict[tuple[str, str, str | None], Reason] = {}
    for f in check.report.findings:
        if f.blocking:
            where = f.file + (f" :: {f.member}" if f.member else "")
            reason = Reason("supply-chain", f.id, f.severity.value, f"{f.title} in {where}")
            reasons.setdefault((f.id, f.file, f.member), reason)
    return list(reasons.values())
