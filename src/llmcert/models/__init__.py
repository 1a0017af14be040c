"""Model backends behind one small protocol, and the ModelRef parser."""

from llmcert.models._ref import EMBEDDED_MODELS, ModelRef
from llmcert.models._registry import backend_factory, open_backend
from llmcert.models._types import (
    ChatMessage,
    GenerateRequest,
    Generation,
    GenerationSettings,
    LoglikelihoodRequest,
    Loglikelihoods,
    ModelBackend,
    ModelIdentity,
    ModelOutput,
    WhiteBoxBackend,
)

__all__ = [
    "EMBEDDED_MODELS",
    "ChatMessage",
    "GenerateRequest",
    "Generation",
    "GenerationSettings",
    "LoglikelihoodRequest",
    "Loglikelihoods",
    "ModelBackend",
    "ModelIdentity",
    "ModelOutput",
    "ModelRef",
    "WhiteBoxBackend",
    "backend_factory",
    "open_backend",
]
