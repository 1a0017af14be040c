"""The production worker: a filing becomes an ``llmcert.services.assess`` run.

The model is assessed by the reference it was registered with, against the
registered standard the filing names, with the filing's attachments offered as
evidence documents (by file stem). Each filing writes under its own folder, so
a re-run after a crash resumes from that filing's journal.

An applicant chooses the reference, so the server acts on it only through the
operator's :class:`~llmcert.egress.Egress`: allowed schemes only (by default
remote endpoints, never a path on the server's own disk), addresses its egress
policy permits, the operator's key only for the origin it is bound to. The
standard comes from the :class:`StandardCatalog` (the package's standards and
the operator's), never from a path a request carried, so the suites and data an
assessment reads are the registry's, and the only applicant files it reads are
its own filing's attachments.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from llmcert.egress import DEFAULT_SCHEMES, Egress, OutboundRefused
from llmcert.registry import FilingRecord, Registry
from llmcert.server._standards import StandardCatalog
from llmcert.server._worker import QueueWorker, WorkerResult

__all__ = ["DEFAULT_SCHEMES", "checked_ref", "services_worker"]


def _evidence(registry: Registry, filing: FilingRecord, folder: Path) -> dict[str, Path]:
    """This filing's attachments, written fresh into a folder only this process can read.

    The copy lives only while the assessment runs (the registry holds the one
    stored copy), so a filing's evidence is not kept twice.
    """
    if folder.exists():
        shutil.rmtree(folder)
    found: dict[str, Path] = {}
    for attachment in registry.list_attachments(filing.id):
        name = Path(attachment.name).name
        content = registry.attachment_content(attachment.id)
        if not name or name in (".", "..") or content is None:
            continue
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = folder / name
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
        found[Path(name).stem] = target
    return found


def checked_ref(text: str, allowed: frozenset[str]) -> str:
    """The registered reference, if a server allowing ``allowed`` schemes may act on it."""
    Egress(allowed_schemes=allowed).check_reference(text)
    return text


def services_worker(
    registry: Registry,
    output: Path,
    *,
    concurrency: int = 1,
    egress: Egress | None = None,
    standards: StandardCatalog | None = None,
) -> QueueWorker:
    """A :class:`QueueWorker` running real assessments, ``concurrency`` at a time."""
    from llmcert.report._assessment_io import assessment_data

    rules = egress if egress is not None else Egress()
    catalog = standards if standards is not None else StandardCatalog.builtin()

    async def assess_filing(filing: FilingRecord) -> WorkerResult:
        from llmcert.services.assess import AssessRequest, assess

        model = await asyncio.to_thread(registry.get_model, filing.model_id)
        backend = rules.open_backend(model.ref)  # refuses before anything touches the model
        try:
            standard = catalog.path(filing.standard_ref)
            if standard is None:
                raise OutboundRefused(
                    "unknown_standard", f"{filing.standard_ref} is not a registered standard"
                )
            folder = output / filing.id
            evidence = await asyncio.to_thread(_evidence, registry, filing, folder / "evidence")
            outcome = await assess(
                AssessRequest(
                    model=model.ref,
                    standard=str(standard),
                    evidence=evidence,
                    output=folder,
                    command=("llmcert", "serve", "filing", filing.id),
                ),
                backend=backend,
            )
        finally:
            await backend.aclose()
            # The registry keeps the one copy; the files were only for this run's checks.
            await asyncio.to_thread(shutil.rmtree, output / filing.id / "evidence", True)
        assessment = outcome.assessment
        return WorkerResult(
            assessment=assessment_data(assessment),
            verdict=assessment.verdict,
            reasons=(assessment.explanation,),
        )

    return QueueWorker(assess_filing, concurrency=concurrency)
