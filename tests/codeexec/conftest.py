from __future__ import annotations

import pytest

from llmcert.codeexec import CodeRunner, ExecutionCache
from llmcert.sandbox import Sandbox


@pytest.fixture
def runner() -> CodeRunner:
    """A runner with a fresh in-memory cache, so every execution really runs."""
    return CodeRunner(Sandbox(), cache=ExecutionCache(None))
