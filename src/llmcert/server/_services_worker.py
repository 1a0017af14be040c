"""The production worker: a filing becomes an ``llmcert.services.assess`` run.

The model is assessed by the reference it was registered with, against the
standard id the filing names, with the filing's attachments offered as
evidence documents (by file stem). Each filing writes under its own folder, so
a re-run after a crash resumes from that filing's journal.

An applicant chooses the reference, so the server only acts on the schemes its
operator allows: by default remote endpoints, never a path on the server's own
disk (``llamacpp:``) or its bundled models, which an operator must opt into.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from llmcert.errors import SpecError
from llmcert.models import ModelRef
from llmcert.registry import FilingRecord, Registry
from llmcert.server._worker import QueueWorker, WorkerResult


def _evidence(registry: Registry, filing: FilingRecord, folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for attachment in registry.list_attachments(filing.id):
        name = Path(attachment.name).name
        content = registry.attachment_content(attachment.id)
        if not name or name in (".", "..") or content is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        target.write_bytes(content)
        found[Path(name).stem] = target
    return found


#: Model reference schemes assessed unless the operator says otherwise.
DEFAULT_SCHEMES = frozenset({"openai"})


def checked_ref(text: str, allowed: frozenset[str]) -> str:
    """The registered reference, if this server may act on it."""
    ref = ModelRef.parse(text)
    if ref.scheme not in allowed:
        raise SpecError(
            f"this registry does not assess {ref.scheme}: models (allowed: "
            f"{', '.join(sorted(allowed))}); the operator can allow it with --allow-scheme"
        )
    return text


def services_worker(
    registry: Registry,
    output: Path,
    *,
    concurrency: int = 1,
    allowed_schemes: frozenset[str] = DEFAULT_SCHEMES,
) -> QueueWorker:
    """A :class:`QueueWorker` running real assessments, ``concurrency`` at a time."""
    from llmcert.report._assessment_io import assessment_data

    async def assess_filing(filing: FilingRecord) -> WorkerResult:
        from llmcert.services.assess import AssessRequest, assess

        model = await asyncio.to_thread(registry.get_model, filing.model_id)
        ref = checked_ref(model.ref, allowed_schemes)
        folder = output / filing.id
        evidence = await asyncio.to_thread(_evidence, registry, filing, folder / "evidence")
        outcome = await assess(
            AssessRequest(
                model=ref,
                standard=filing.standard_ref.partition("@")[0],
                evidence=evidence,
                output=folder,
                command=("llmcert", "serve", "filing", filing.id),
            )
        )
        assessment = outcome.assessment
        return WorkerResult(
            assessment=assessment_data(assessment),
            verdict=assessment.verdict,
            reasons=(assessment.explanation,),
        )

    return QueueWorker(assess_filing, concurrency=concurrency)
