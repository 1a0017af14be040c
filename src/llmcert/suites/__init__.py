"""Suites: versioned test suites as data (YAML + items), and the built-in catalogue."""

from llmcert.suites._prompt import LETTERS, PromptRenderer
from llmcert.suites._spec import FewShotExample, ItemsSpec, PromptSpec, ScorerSpec, SuiteSpec
from llmcert.suites._suite import (
    BUILTIN_SUITES,
    COMPLETION_VARIANTS,
    Suite,
    builtin_suite_path,
    load_suite,
    suite_digest,
)

__all__ = [
    "BUILTIN_SUITES",
    "COMPLETION_VARIANTS",
    "LETTERS",
    "FewShotExample",
    "ItemsSpec",
    "PromptRenderer",
    "PromptSpec",
    "ScorerSpec",
    "Suite",
    "SuiteSpec",
    "builtin_suite_path",
    "load_suite",
    "suite_digest",
]
