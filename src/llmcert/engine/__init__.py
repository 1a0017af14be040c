"""Engine: plan work units, execute them bounded and retried, journal them exactly once."""

from llmcert.engine._executor import ExecutionStats, execute
from llmcert.engine._journal import Journal, JournalEntry, decode_output, encode_output
from llmcert.engine._progress import NullProgress, ProgressSink, RichProgress
from llmcert.engine._retry import Outcome, RetryPolicy, call_with_retries
from llmcert.engine._workunit import (
    RenderedPrompt,
    WorkUnit,
    plan_units,
    render_prompts,
    unit_key,
    unit_seed,
)

__all__ = [
    "ExecutionStats",
    "Journal",
    "JournalEntry",
    "NullProgress",
    "Outcome",
    "ProgressSink",
    "RenderedPrompt",
    "RetryPolicy",
    "RichProgress",
    "WorkUnit",
    "call_with_retries",
    "decode_output",
    "encode_output",
    "execute",
    "plan_units",
    "render_prompts",
    "unit_key",
    "unit_seed",
]
