"""Test doubles for llmcert and for code built on it.

:class:`FakeOpenAIServer` is a loopback OpenAI-compatible server with deterministic answers,
an idempotency store, a request log and injectable faults (see ``fake_openai``). Names are
loaded on first use so that ``python -m llmcert.testing.fake_openai`` does not import its own
module twice.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmcert.testing._harm_judge import MarkerHarmJudge
    from llmcert.testing._process import ServerProcess, fake_server_process
    from llmcert.testing._whitebox import FakeWhiteBoxModel
    from llmcert.testing.fake_openai import (
        FakeOpenAIServer,
        FaultKind,
        FaultRule,
        Policy,
        Quirk,
        RequestRecord,
        ThreadedServer,
        TriggerKind,
    )

__all__ = [
    "FakeOpenAIServer",
    "FakeWhiteBoxModel",
    "FaultKind",
    "FaultRule",
    "MarkerHarmJudge",
    "Policy",
    "Quirk",
    "RequestRecord",
    "ServerProcess",
    "ThreadedServer",
    "TriggerKind",
    "fake_server_process",
]

_PROCESS = {"ServerProcess", "fake_server_process"}


def __getattr__(name: str) -> Any:
    if name == "FakeWhiteBoxModel":
        return importlib.import_module("llmcert.testing._whitebox").FakeWhiteBoxModel
    if name == "MarkerHarmJudge":
        return importlib.import_module("llmcert.testing._harm_judge").MarkerHarmJudge
    if name in _PROCESS:
        return getattr(importlib.import_module("llmcert.testing._process"), name)
    if name in __all__:
        return getattr(importlib.import_module("llmcert.testing.fake_openai"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
