"""Lazy backend registry: nothing heavy is imported until a backend is chosen.

Built-in backends are named by ``"module:Class"`` strings; third-party backends
register under the ``llmcert.backends`` entry-point group and are looked up only
when a scheme is not built in.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Protocol, cast

from llmcert.errors import ModelRefError
from llmcert.models._ref import ModelRef
from llmcert.models._types import ModelBackend

_BUILTIN: dict[str, str] = {
    "openai": "llmcert.models.openai_compat:OpenAICompatBackend",
    "llamacpp": "llmcert.models.llamacpp:LlamaCppBackend",
    "embedded": "llmcert.models.llamacpp:LlamaCppBackend",
    "mock": "llmcert.models.mock:MockBackend",
}


class BackendFactory(Protocol):
    @classmethod
    def from_ref(cls, ref: ModelRef) -> ModelBackend: ...


def _load(spec: str) -> BackendFactory:
    module, _, name = spec.partition(":")
    return cast(BackendFactory, getattr(importlib.import_module(module), name))


def backend_factory(scheme: str) -> BackendFactory:
    spec = _BUILTIN.get(scheme)
    if spec is not None:
        return _load(spec)
    for ep in entry_points(group="llmcert.backends"):
        if ep.name == scheme:
            return cast(BackendFactory, ep.load())
    raise ModelRefError(f"no backend is registered for scheme {scheme!r}")


def open_backend(ref: ModelRef | str) -> ModelBackend:
    """Build the backend for a model reference (does not contact the model yet)."""
    if isinstance(ref, str):
        ref = ModelRef.parse(ref)
    return backend_factory(ref.scheme).from_ref(ref)
