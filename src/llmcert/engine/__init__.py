"""Engine: plan work units, execute them bounded and retried, journal them exactly once.

Names load on first use (PEP 562): a run contacts the model while the rest of the
engine is still being imported, so start-up overlaps the first network round trip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmcert._lazy import lazy_getattr as _lazy_getattr

if TYPE_CHECKING:
    from llmcert._retry import Outcome, RetryPolicy, call_with_retries
    from llmcert.engine._executor import (
        ExecutionStats,
        StartedCalls,
        effective_concurrency,
        execute,
    )
    from llmcert.engine._journal import (
        Journal,
        JournalEntry,
        decode_output,
        encode_output,
        output_to_dict,
    )
    from llmcert.engine._progress import NullProgress, ProgressSink, RichProgress
    from llmcert.engine._workunit import (
        PlannedRequest,
        RenderedPrompt,
        WorkUnit,
        plan_requests,
        plan_units,
        render_prompts,
        request_key,
        unit_key,
        unit_seed,
    )

_WHERE = {
    "ExecutionStats": "_executor",
    "StartedCalls": "_executor",
    "effective_concurrency": "_executor",
    "execute": "_executor",
    "Journal": "_journal",
    "JournalEntry": "_journal",
    "decode_output": "_journal",
    "encode_output": "_journal",
    "output_to_dict": "_journal",
    "NullProgress": "_progress",
    "ProgressSink": "_progress",
    "RichProgress": "_progress",
    "Outcome": "llmcert._retry",
    "RetryPolicy": "llmcert._retry",
    "call_with_retries": "llmcert._retry",
    "PlannedRequest": "_workunit",
    "RenderedPrompt": "_workunit",
    "WorkUnit": "_workunit",
    "plan_requests": "_workunit",
    "plan_units": "_workunit",
    "render_prompts": "_workunit",
    "request_key": "_workunit",
    "unit_key": "_workunit",
    "unit_seed": "_workunit",
}

__all__ = [
    "ExecutionStats",
    "Journal",
    "JournalEntry",
    "NullProgress",
    "Outcome",
    "PlannedRequest",
    "ProgressSink",
    "RenderedPrompt",
    "RetryPolicy",
    "RichProgress",
    "StartedCalls",
    "WorkUnit",
    "call_with_retries",
    "decode_output",
    "effective_concurrency",
    "encode_output",
    "execute",
    "output_to_dict",
    "plan_requests",
    "plan_units",
    "render_prompts",
    "request_key",
    "unit_key",
    "unit_seed",
]


__getattr__ = _lazy_getattr(__name__, _WHERE, globals())


def __dir__() -> list[str]:
    return __all__
