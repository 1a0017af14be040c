"""The CycloneDX ``modelCard`` and evidence links of an ML-BOM.

``cyclonedx-python-lib`` cannot write a model card yet, so it is built here as
plain JSON and checked by the 1.6 schema like the rest of the document. Only
facts that were read go in; llmcert results are linked by their sha256 so a
reader can tell exactly which report a figure comes from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from llmcert._hashing import canonical_json
from llmcert.errors import LlmcertError
from llmcert.supplychain.bom._meta import ModelFacts


def document_sha256(doc: Mapping[str, Any]) -> str:
    """Hex sha256 of a JSON document's canonical form (what an attestation would cover)."""
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _metric_entries(doc: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """Metric-like records of an eval result (``metrics``) or assessment (``requirements``)."""
    for key in ("metrics", "requirements"):
        entries = doc.get(key)
        if isinstance(entries, list):
            yield from (e for e in entries if isinstance(e, Mapping))


def _source_name(doc: Mapping[str, Any]) -> str:
    for key in ("suite", "standard"):
        part = doc.get(key)
        if isinstance(part, Mapping) and part.get("name"):
            return str(part["name"])
        if isinstance(part, str):
            return part
    return "llmcert"


def check_subject(doc: Mapping[str, Any], root_digest: str) -> None:
    """Refuse results that name a different artefact: they are evidence about another model."""
    model = doc.get("model")
    recorded = model.get("artefact_digest") if isinstance(model, Mapping) else None
    if recorded and recorded != root_digest:
        raise LlmcertError(
            f"assessment is of artefact {recorded}, not of this model ({root_digest})"
        )


def performance_metrics(doc: Mapping[str, Any], ref_hex: str) -> list[dict[str, Any]]:
    source = _source_name(doc)
    out: list[dict[str, Any]] = []
    for entry in _metric_entries(doc):
        estimate = entry.get("estimate")
        if estimate is None:
            continue
        name = entry.get("name") or entry.get("id") or "metric"
        group = entry.get("group")
        slice_ = (
            ", ".join(f"{k}={v}" for k, v in sorted(group.items()))
            if isinstance(group, Mapping)
            else ""
        )
        metric: dict[str, Any] = {
            "type": f"{source}/{name}",
            "value": _fmt(estimate),
            "slice": f"{slice_ or 'overall'} (llmcert result sha256:{ref_hex[:16]})",
        }
        lo, hi = entry.get("ci_low"), entry.get("ci_high")
        if lo is not None and hi is not None:
            metric["confidenceInterval"] = {"lowerBound": _fmt(lo), "upperBound": _fmt(hi)}
        out.append(metric)
    return out


def evidence_reference(doc: Mapping[str, Any], kind: str, ref_hex: str) -> dict[str, Any]:
    """An externalReference that pins a report by hash (CycloneDX types are fixed words)."""
    ref_type = {"scan": "static-analysis-report", "assessment": "quality-metrics"}[kind]
    run = doc.get("run")
    run_id = run.get("run_id") if isinstance(run, Mapping) else None
    comment = f"llmcert {kind} report"
    if kind == "assessment":
        comment += f" ({_source_name(doc)}" + (f", run {run_id})" if run_id else ")")
    else:
        comment += scan_summary(doc)
    return {
        "type": ref_type,
        "url": f"urn:llmcert:{kind}:sha256:{ref_hex}",
        "comment": comment,
        "hashes": [{"alg": "SHA-256", "content": ref_hex}],
    }


def scan_summary(report: Mapping[str, Any]) -> str:
    findings = report.get("findings")
    if not isinstance(findings, list):
        return ""
    sev: dict[str, int] = {}
    for f in findings:
        if isinstance(f, Mapping):
            key = str(f.get("severity", "unknown"))
            sev[key] = sev.get(key, 0) + 1
    detail = ", ".join(f"{n} {s}" for s, n in sorted(sev.items()))
    n = len(findings)
    return f": {n} finding{'' if n == 1 else 's'}" + (f" ({detail})" if detail else "")


def model_card(
    facts: ModelFacts,
    *,
    scan_report: Mapping[str, Any] | None,
    metrics: list[dict[str, Any]],
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if facts.task:
        params["task"] = facts.task
    if facts.architecture_family:
        params["architectureFamily"] = facts.architecture_family
    if facts.architecture:
        params["modelArchitecture"] = facts.architecture
    if facts.datasets:
        params["datasets"] = [{"type": "dataset", "name": d} for d in facts.datasets]
    if facts.task == "text-generation":
        params["inputs"] = [{"format": "text"}]
        params["outputs"] = [{"format": "text"}]
    card: dict[str, Any] = {}
    if params:
        card["modelParameters"] = params
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    limits = []
    if facts.quantisation and facts.quantisation not in ("F32", "F16", "BF16"):
        limits.append(
            f"Weights are quantised ({facts.quantisation}); quality may differ from the original model."
        )
    if facts.has_chat_template is False:
        limits.append(
            "No chat template: a base/completion model, not tuned to follow instructions."
        )
    if facts.context_length:
        limits.append(f"Context window: {facts.context_length} tokens.")
    if scan_report is not None:
        limits.append("Artefact scan" + (scan_summary(scan_report) or ": report attached") + ".")
    if not facts.datasets:
        limits.append("Training data not declared in the model files.")
    if limits:
        card["considerations"] = {"technicalLimitations": limits}
    return card
