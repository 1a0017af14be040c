"""Scan model artefacts for supply-chain risks without loading or unpickling them.

``scan_path`` walks a model file or directory, decides each file's format from
its bytes, runs the matching structural checks (pickle allowlist with two
engines, safetensors, GGUF, NumPy, zip containers, chat templates, remote code,
provenance) and returns a :class:`ScanReport`. A finding is *blocking* when its
severity reaches the ``fail_on`` threshold. Scanning is sync and CPU-bound;
callers that serve requests should run it in a worker.
"""

from llmcert.errors import SupplyChainError
from llmcert.supplychain.scan._findings import Finding, Severity
from llmcert.supplychain.scan._report import ScannedFile, ScanReport, ScanSummary
from llmcert.supplychain.scan._run import scan_path

__all__ = [
    "Finding",
    "ScanReport",
    "ScanSummary",
    "ScannedFile",
    "Severity",
    "SupplyChainError",
    "scan_path",
]
