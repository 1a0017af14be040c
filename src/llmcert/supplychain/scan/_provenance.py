"""Provenance and licence as declared by each file, and whether the files agree."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from llmcert.supplychain.scan._findings import FindingSink

#: Source key (any file kind) -> provenance field.
FIELDS: Final = {
    "license": "license",
    "license_name": "license",
    "general.license": "license",
    "general.name": "name",
    "model_name": "name",
    "general.organization": "organization",
    "general.author": "author",
    "author": "author",
    "general.source.url": "source",
    "general.source.huggingface.repository": "source",
    "general.url": "source",
    "general.repo_url": "source",
    "base_model": "base_model",
    "general.base_model.0.repo_url": "base_model",
    "general.base_model.0.name": "base_model",
}
_ALIASES: Final = {
    "apache-2": "apache-2.0",
    "apache-license-2.0": "apache-2.0",
    "apache-license-version-2.0": "apache-2.0",
    "apache2": "apache-2.0",
    "mit-license": "mit",
    "gemma-terms-of-use": "gemma",
}
_ATTRIBUTION: Final = ("organization", "author", "source", "base_model")


def provenance(raw: Mapping[str, object]) -> dict[str, str]:
    """Keep the provenance fields of ``raw`` metadata under llmcert's field names."""
    out: dict[str, str] = {}
    for key, field in FIELDS.items():
        value = raw.get(key)
        if isinstance(value, str) and value.strip() and field not in out:
            out[field] = value.strip()[:200]
    return out


def normalise_licence(value: str) -> str:
    slug = re.sub(r"[\s_]+", "-", value.strip().lower())
    return _ALIASES.get(slug, slug)


def check_agreement(declared: dict[str, dict[str, str]], sink: FindingSink) -> None:
    """``declared`` maps each file to its provenance; ``sink`` belongs to the scan root."""
    licences = {
        path: normalise_licence(p["license"]) for path, p in declared.items() if "license" in p
    }
    distinct = sorted(set(licences.values()))
    if len(distinct) > 1:
        listing = "; ".join(f"{path}: {declared[path]['license']}" for path in sorted(licences))
        sink.add("LLMC-PRV-001", listing, engine="provenance")
    elif not licences:
        sink.add(
            "LLMC-PRV-002",
            "no model card, GGUF or safetensors metadata names a licence",
            engine="provenance",
        )
    if not any(f in p for p in declared.values() for f in _ATTRIBUTION):
        sink.add(
            "LLMC-PRV-003",
            "no author, organisation, source or base model is declared",
            engine="provenance",
        )
