"""What a model backend is asked and what it answers.

Requests and results are small frozen dataclasses: they sit on the hot path of a
run (thousands per second against a fast endpoint), so they avoid validation cost.
Generation settings come from suite files and are validated once, with pydantic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from llmcert._hashing import digest_json

Role = Literal["system", "user", "assistant"]


class GenerationSettings(BaseModel):
    """Decoding settings; part of every work unit's key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_tokens: int = Field(256, ge=1, le=32768)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: tuple[str, ...] = ()

    def digest(self) -> str:
        return digest_json(self.model_dump(mode="json"))


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """Either ``messages`` (chat API) or ``prompt`` (completion API) is set, never both."""

    settings: GenerationSettings
    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    seed: int | None = None
    idempotency_key: str | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("GenerateRequest needs exactly one of messages or prompt")


@dataclass(frozen=True, slots=True)
class LoglikelihoodRequest:
    """Score each continuation given the context: log P(continuation | context)."""

    context: str
    continuations: tuple[str, ...]
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Loglikelihoods:
    """Summed log-probabilities, one per continuation, in request order."""

    logprobs: tuple[float, ...]
    token_counts: tuple[int, ...]
    is_greedy: tuple[bool, ...] = ()


ModelOutput = Generation | Loglikelihoods


@dataclass(frozen=True)
class ModelIdentity:
    """What the model *is*, as far as it can be known from outside.

    ``digest`` covers every other field and is what work units are keyed by: a
    journaled answer is only ever reused for the same identity digest.
    """

    kind: Literal["artefact", "endpoint", "synthetic"]
    ref: str
    artefact_digest: str | None = None
    artefact_path: str | None = None
    endpoint: str | None = None
    reported_model: str | None = None
    fingerprint: str | None = None
    chat_template_digest: str | None = None
    engine: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return digest_json(
            {
                "kind": self.kind,
                "artefact_digest": self.artefact_digest,
                "endpoint": self.endpoint,
                "reported_model": self.reported_model,
                "fingerprint": self.fingerprint,
                "chat_template_digest": self.chat_template_digest,
                "engine": self.engine,
            }
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "digest": self.digest,
            "kind": self.kind,
            "ref": self.ref,
            "artefact_digest": self.artefact_digest,
            "artefact_path": self.artefact_path,
            "endpoint": self.endpoint,
            "reported_model": self.reported_model,
            "fingerprint": self.fingerprint,
            "chat_template_digest": self.chat_template_digest,
            "engine": self.engine,
            "details": dict(self.details),
        }


@runtime_checkable
class ModelBackend(Protocol):
    """The whole plug-in surface for a model.

    Backends are thin: they translate one request into one call and map their
    SDK's errors onto :mod:`llmcert.errors`. Retries, concurrency, caching and the
    journal live in :mod:`llmcert.engine`.
    """

    #: Upper bound on useful parallel calls (1 for an in-process model).
    max_concurrency: int | None
    supports_loglikelihood: bool
    supports_chat: bool

    async def identify(self) -> ModelIdentity:
        """Establish identity before any work unit is keyed; may call the model.

        Called once per run: a backend whose identification makes calls that can
        fail transiently retries each of them itself.
        """
        ...

    async def generate(self, request: GenerateRequest) -> Generation: ...

    async def loglikelihood(self, request: LoglikelihoodRequest) -> Loglikelihoods: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class WhiteBoxBackend(Protocol):
    """A model whose chat template llmcert renders itself (a local GGUF file run in-process).

    White-box attacks (WDTA AI-STR-02 L4) need the exact text the model is given, so
    they can force the start of its answer (an assistant prefix appended to the
    rendered conversation) and score a target string's log-likelihood after it.
    An endpoint renders its own template and is not one.
    """

    async def chat_prompt(self, messages: Sequence[ChatMessage]) -> str:
        """The conversation as the model reads it, up to where its answer begins."""
        ...
