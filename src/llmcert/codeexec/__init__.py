"""Code execution as a measure: programs from answers, sandboxed tests, calibrated CPU
limits, an execution cache keyed by content, and insecure-code analysis."""

from llmcert.codeexec._cache import ExecutionCache, execution_key
from llmcert.codeexec._extract import PromptKind, extract_code
from llmcert.codeexec._insecure import Finding, ScanResult, scan_programs
from llmcert.codeexec._measures import code_estimate, insecure_estimate, is_code_metric
from llmcert.codeexec._runner import T_BASE, Calibration, CodeRunner, Job, K, task_job
from llmcert.codeexec._scorer import CodeTestsScorer, shared_runner

__all__ = [
    "T_BASE",
    "Calibration",
    "CodeRunner",
    "CodeTestsScorer",
    "ExecutionCache",
    "Finding",
    "Job",
    "K",
    "PromptKind",
    "ScanResult",
    "code_estimate",
    "execution_key",
    "extract_code",
    "insecure_estimate",
    "is_code_metric",
    "scan_programs",
    "shared_runner",
    "task_job",
]
