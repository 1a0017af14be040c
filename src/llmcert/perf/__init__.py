"""Serving performance: load generation against an endpoint or an in-process model,
latency and throughput figures with order-statistic bounds, SLO attainment and both
goodputs, energy meters, and the client's own self-test.

Heavy pieces (aiohttp, llama.cpp) are imported when a target starts.
"""

from llmcert.perf._errors import MeterError, PerfError
from llmcert.perf._experiment import (
    PERF_SCHEMA,
    Energy,
    PerfResult,
    result_from_journal,
    run_experiment,
)
from llmcert.perf._journal import JOURNAL_NAME, PerfJournal, read_journal
from llmcert.perf._metrics import Attainment, Distribution, Metrics, meets_slo, summarize
from llmcert.perf._run import LoadRun, arrival_times, run_load
from llmcert.perf._selftest import LAG_LIMIT_MS, SelfTest, self_test
from llmcert.perf._spec import Lengths, LoadSpec, SLOSpec, WorkloadSpec, profile_digest
from llmcert.perf._sweep import Sweep, SweepStep, read_goodput, sweep
from llmcert.perf._targets import OpenAIStreamTarget, Target, open_target
from llmcert.perf._trace import RequestTrace
from llmcert.perf._workload import WorkRequest, build_requests

__all__ = [
    "JOURNAL_NAME",
    "LAG_LIMIT_MS",
    "PERF_SCHEMA",
    "Attainment",
    "Distribution",
    "Energy",
    "Lengths",
    "LoadRun",
    "LoadSpec",
    "MeterError",
    "Metrics",
    "OpenAIStreamTarget",
    "PerfError",
    "PerfJournal",
    "PerfResult",
    "RequestTrace",
    "SLOSpec",
    "SelfTest",
    "Sweep",
    "SweepStep",
    "Target",
    "WorkRequest",
    "WorkloadSpec",
    "arrival_times",
    "build_requests",
    "meets_slo",
    "open_target",
    "profile_digest",
    "read_goodput",
    "read_journal",
    "result_from_journal",
    "run_experiment",
    "run_load",
    "self_test",
    "summarize",
    "sweep",
]
