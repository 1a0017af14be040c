"""Assembling the BOM: file digests, facts and card in one schema-checked document."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmcert._fileio import write_json_atomic
from llmcert._version import __version__
from llmcert.supplychain.bom._card import (
    check_subject,
    document_sha256,
    evidence_reference,
    model_card,
    performance_metrics,
)
from llmcert.supplychain.bom._meta import ModelFacts, collect_facts
from llmcert.supplychain.bom._schema import BomInvalid, schema_errors, spdx_ids, validate
from llmcert.supplychain.identity import ArtefactIdentity, identify

__all__ = [
    "BomInvalid",
    "build_bom",
    "model_facts",
    "schema_errors",
    "validate_bom",
    "write_bom",
]

_PROP = "llmcert:"


def validate_bom(bom: dict[str, Any]) -> None:
    """Raise :class:`BomInvalid` listing every violation of the CycloneDX 1.6 schema."""
    validate(bom)


def model_facts(path: Path | str, identity: ArtefactIdentity | None = None) -> ModelFacts:
    """What the files of a model say about it (no weights loaded)."""
    ident = identity or identify(path)
    return collect_facts(Path(path), [f.path for f in ident.tree.files])


def _licences(licence: str | None) -> list[dict[str, Any]]:
    if not licence:
        return []
    if any(op in f" {licence} " for op in (" OR ", " AND ", " WITH ")):
        return [{"expression": licence}]
    spdx = spdx_ids().get(licence.lower())
    return [{"license": {"id": spdx} if spdx else {"name": licence}}]


def _hex(digest: str) -> str:
    return digest.split(":", 1)[1]


def _properties(facts: ModelFacts, ident: ArtefactIdentity) -> list[dict[str, str]]:
    props: dict[str, Any] = {
        "root-digest": ident.root_digest,
        "artefact-kind": ident.tree.kind,
        "size-bytes": ident.tree.size,
        "format": ",".join(sorted(facts.formats)) or None,
        "architecture": facts.architecture,
        "parameter-count": facts.parameter_count,
        "size-label": facts.size_label,
        "quantisation": facts.quantisation,
        "tensor-types": json.dumps(dict(sorted(facts.tensor_types.items())))
        if facts.tensor_types
        else None,
        "context-length": facts.context_length,
        "chat-template": None
        if facts.has_chat_template is None
        else ("present" if facts.has_chat_template else "absent"),
        "languages": ",".join(facts.languages) or None,
        "base-models": ",".join(facts.base_models) or None,
        "tags": ",".join(facts.tags) or None,
    }
    return [{"name": _PROP + k, "value": str(v)} for k, v in props.items() if v is not None]


def _component(
    ident: ArtefactIdentity,
    facts: ModelFacts,
    *,
    scan_report: Mapping[str, Any] | None,
    assessments: list[Mapping[str, Any]],
) -> dict[str, Any]:
    comp: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": f"model-{_hex(ident.root_digest)[:16]}",
        "name": facts.name or ident.name,
    }
    if facts.version:
        comp["version"] = str(facts.version)
    if facts.organization:
        comp["manufacturer"] = {"name": facts.organization}
    if facts.description:
        comp["description"] = facts.description
    if ident.tree.kind == "file":
        comp["hashes"] = [{"alg": "SHA-256", "content": _hex(ident.root_digest)}]
    if licences := _licences(facts.licence):
        comp["licenses"] = licences
    refs: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    if scan_report is not None:
        refs.append(evidence_reference(scan_report, "scan", document_sha256(scan_report)))
    for doc in assessments:
        check_subject(doc, ident.root_digest)
        ref_hex = document_sha256(doc)
        refs.append(evidence_reference(doc, "assessment", ref_hex))
        metrics += performance_metrics(doc, ref_hex)
    if refs:
        comp["externalReferences"] = refs
    comp["properties"] = _properties(facts, ident)
    if ident.tree.kind == "directory":
        comp["components"] = [
            {
                "type": "file",
                "bom-ref": f"file-{_hex(ident.root_digest)[:16]}-{i}",
                "name": f.path,
                "hashes": [{"alg": "SHA-256", "content": _hex(f.digest)}],
                "properties": [{"name": _PROP + "size-bytes", "value": str(f.size)}],
            }
            for i, f in enumerate(ident.tree.files)
        ]
    card = model_card(facts, scan_report=scan_report, metrics=metrics)
    card["bom-ref"] = f"modelcard-{_hex(ident.root_digest)[:16]}"
    comp["modelCard"] = card
    return comp


def build_bom(
    path: Path | str,
    *,
    scan_report: Mapping[str, Any] | None = None,
    assessments: Iterable[Mapping[str, Any]] = (),
    identity: ArtefactIdentity | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A validated CycloneDX 1.6 ML-BOM (JSON-ready dict) for the model at ``path``.

    ``assessments`` are llmcert result or assessment documents (JSON); one that
    records a different artefact digest is refused. Pass ``identity`` when the
    artefact has just been digested, to avoid reading it twice.
    """
    ident = identity or identify(path)
    facts = model_facts(path, ident)
    stamp = (created or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    bom: dict[str, Any] = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": stamp.replace("+00:00", "Z"),
            "tools": {
                "components": [{"type": "application", "name": "llmcert", "version": __version__}]
            },
        },
        "components": [
            _component(ident, facts, scan_report=scan_report, assessments=list(assessments))
        ],
    }
    validate(bom)
    return bom


def write_bom(bom: Mapping[str, Any], path: Path | str) -> Path:
    """Write a BOM as indented UTF-8 JSON (atomically: a reader never sees half a file)."""
    target = Path(path)
    write_json_atomic(target, bom)
    return target
