"""Model calls made for someone else: checked references, vetted connections, classified errors.

:class:`Egress` is what a server holds to act on applicants' model references.
It refuses a reference that names a credential or a scheme the operator has not
allowed, opens OpenAI-compatible backends whose connections go only to
addresses the :class:`EgressPolicy` permits, attaches the operator's key only
for the origin it is bound to, caps the timeout and the size of an answer, and
wraps the backend so that every error it raises carries a classified message
("endpoint unreachable", "HTTP 404") instead of anything the endpoint sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from llmcert.egress._credentials import CredentialMap
from llmcert.egress._policy import EgressDenied, EgressPolicy
from llmcert.errors import (
    AuthenticationError,
    BackendUnavailable,
    LlmcertError,
    MalformedResponse,
    ModelError,
    ModelRefError,
    ModelTimeout,
    RateLimited,
    RequestRejected,
)
from llmcert.models import ModelBackend, ModelRef
from llmcert.models._types import (
    GenerateRequest,
    Generation,
    LoglikelihoodRequest,
    Loglikelihoods,
    ModelIdentity,
)

#: Model reference schemes acted on unless the operator says otherwise: remote endpoints only.
DEFAULT_SCHEMES = frozenset({"openai"})
_MIB = 1 << 20


class OutboundRefused(LlmcertError):
    """A model reference this server will not act on; ``code`` is stable, the message safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Egress:
    """The operator's rules for calling applicants' endpoints."""

    policy: EgressPolicy = field(default_factory=EgressPolicy)
    credentials: CredentialMap = field(default_factory=CredentialMap)
    allowed_schemes: frozenset[str] = DEFAULT_SCHEMES
    #: An applicant's ``timeout=`` is honoured up to this many seconds per call.
    max_timeout: float = 120.0
    #: Larger answers are refused as malformed instead of being held in memory.
    max_response_bytes: int = 4 * _MIB

    def check_reference(self, text: str) -> ModelRef:
        """The reference parsed, or :class:`OutboundRefused` with a code an API can return."""
        try:
            ref = ModelRef.parse(text)
        except ModelRefError as exc:
            raise OutboundRefused("invalid_model_ref", str(exc)) from None
        if "key_env" in ref.params:
            raise OutboundRefused(
                "credential_in_reference",
                "a model reference filed with this registry cannot name a credential (key_env): "
                "the registry's operator binds API keys to endpoint origins",
            )
        if ref.scheme not in self.allowed_schemes:
            raise OutboundRefused(
                "scheme_not_allowed",
                f"this registry does not assess {ref.scheme}: models (allowed: "
                f"{', '.join(sorted(self.allowed_schemes))})",
            )
        if ref.scheme == "openai":
            try:
                self.policy.check_host(_endpoint(ref)[1])
            except EgressDenied:
                raise OutboundRefused(
                    "egress_denied", "the endpoint's address is not one this registry connects to"
                ) from None
            self._timeout(ref)
        return ref

    def _timeout(self, ref: ModelRef) -> float:
        raw = ref.params.get("timeout")
        try:
            wanted = float(raw) if raw is not None else self.max_timeout
        except ValueError:
            wanted = math.nan
        if not (wanted > 0 and math.isfinite(wanted)):
            raise OutboundRefused(
                "invalid_model_ref", "timeout must be a positive number of seconds"
            )
        return min(wanted, self.max_timeout)

    def open_backend(self, text: str) -> ModelBackend:
        """A backend for an applicant's reference, under this policy (checked again here)."""
        from llmcert.models import open_backend

        ref = self.check_reference(text)
        if ref.scheme != "openai":  # a local scheme the operator allowed: no network involved
            return ClassifiedBackend(open_backend(ref))
        from llmcert.egress._policy import PolicyResolver
        from llmcert.models.openai_compat import OpenAICompatBackend

        base_url = _endpoint(ref)[0]
        secret = self.credentials.for_url(base_url)
        return ClassifiedBackend(
            OpenAICompatBackend(
                base_url,
                ref.params["model"],
                api=ref.params.get("api", "chat"),
                api_key=secret.reveal() if secret is not None else None,
                timeout=self._timeout(ref),
                ref_text=str(ref),
                resolver=PolicyResolver(self.policy),
                max_response_bytes=self.max_response_bytes,
            )
        )


def _endpoint(ref: ModelRef) -> tuple[str, str]:
    """(base URL, host) read from the reference as written, IPv6 literals kept in brackets."""
    parts = urlsplit(ref.text)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    scheme = "https" if ref.text.startswith("openai+https:") else "http"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}", host


def _caused_by_denial(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, EgressDenied):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify(exc: BaseException) -> str:
    """What an applicant may be told about a failure: a class of error, never the endpoint's words.

    Connection refused, reset, timed out, or not speaking HTTP all read
    "endpoint unreachable", so the note cannot tell an open port from a closed one.
    """
    if isinstance(exc, OutboundRefused):
        return str(exc)
    if _caused_by_denial(exc):
        return "endpoint not allowed by the registry's egress policy"
    if isinstance(exc, (BackendUnavailable, ModelTimeout)):
        return "endpoint unreachable"
    if isinstance(exc, MalformedResponse):
        return "malformed response"
    if isinstance(exc, ModelError):
        return f"HTTP {exc.status}" if exc.status else "request rejected"
    return "internal error (the operator's log has the details)"


def _classified(exc: ModelError) -> ModelError:
    message = classify(exc)
    if _caused_by_denial(exc):
        return RequestRejected(message)  # not retryable: asking again changes nothing
    if isinstance(exc, RateLimited):
        return RateLimited(message, status=exc.status, retry_after=exc.retry_after)
    if isinstance(exc, AuthenticationError):
        return AuthenticationError(message, status=exc.status)
    return type(exc)(message, status=exc.status)


class ClassifiedBackend:
    """Delegates to a backend; any :class:`ModelError` is re-raised with only its class of error."""

    def __init__(self, inner: ModelBackend) -> None:
        self._inner = inner
        self.max_concurrency = inner.max_concurrency
        self.supports_loglikelihood = inner.supports_loglikelihood
        self.supports_chat = inner.supports_chat

    async def identify(self) -> ModelIdentity:
        try:
            return await self._inner.identify()
        except ModelError as exc:
            raise _classified(exc) from None

    async def generate(self, request: GenerateRequest) -> Generation:
        try:
            return await self._inner.generate(request)
        except ModelError as exc:
            raise _classified(exc) from None

    async def loglikelihood(self, request: LoglikelihoodRequest) -> Loglikelihoods:
        try:
            return await self._inner.loglikelihood(request)
        except ModelError as exc:
            raise _classified(exc) from None

    async def aclose(self) -> None:
        await self._inner.aclose()
