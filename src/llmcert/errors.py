"""The one exception tree of llmcert.

::

    LlmcertError
    ├── SpecError                 a suite/standard/item file is malformed (file, line, field)
    ├── ModelRefError             a model reference cannot be parsed or resolved
    ├── ModelError                a model call failed (carries ``retryable``)
    │   ├── BackendUnavailable    cannot connect; endpoint down         (retryable)
    │   ├── ModelTimeout          no answer in time                      (retryable)
    │   ├── RateLimited           HTTP 429, may carry ``retry_after``    (retryable)
    │   ├── ServerError           HTTP 5xx                               (retryable)
    │   ├── MalformedResponse     the answer is not what the API promises (retryable)
    │   ├── AuthenticationError   HTTP 401/403: wrong or missing API key (fatal)
    │   └── RequestRejected       HTTP 4xx other than 401/403/429       (fatal)
    ├── IdentityChanged           the model's identity changed during a run
    ├── JournalError              the run journal cannot be opened or belongs elsewhere
    ├── ScoringError              a scorer could not score a response
    ├── ConditionsDiffer          results from different hardware classes, refused (services.compare)
    ├── SupplyChainError          an artefact cannot be scanned, identified, described or signed
    │   ├── ArtefactError         missing, a symlink, a special file, an odd name (supplychain.identity)
    │   ├── BomInvalid            a BOM fails the CycloneDX schema (supplychain.bom)
    │   └── SigningError          a key or signature tool cannot be used (supplychain.signing)
    ├── CertificateError          a certificate cannot be issued or read (certificates)
    │   └── VerdictNotCertifiable only a PASS assessment is certified
    └── RegistryError             the registry cannot do what was asked (registry)
        ├── RecordNotFound        no model, filing, certificate or token with that id
        └── IllegalTransition     the filing or certificate state machine forbids the move

Subclasses defined beside the code that raises them are listed with their package.
Errors carry context as data (path, line, field, unit key); the CLI renders them.
"""

from __future__ import annotations

from pathlib import Path


class LlmcertError(Exception):
    """Root of every error llmcert raises on purpose."""


class SpecError(LlmcertError):
    """A spec file (suite, item file, standard) does not validate."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class ModelRefError(LlmcertError):
    """A model reference is not understood, or names something that is not there."""


class ModelError(LlmcertError):
    """A model call failed. ``retryable`` says whether trying again may help."""

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class BackendUnavailable(ModelError):
    retryable = True


class ModelTimeout(ModelError):
    retryable = True


class RateLimited(ModelError):
    retryable = True

    def __init__(
        self, message: str, *, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status)


class ServerError(ModelError):
    retryable = True


class MalformedResponse(ModelError):
    retryable = True


class AuthenticationError(ModelError):
    retryable = False


class RequestRejected(ModelError):
    retryable = False


class IdentityChanged(LlmcertError):
    """The artefact or endpoint under test is no longer the model the run started with."""


class JournalError(LlmcertError):
    """The journal cannot be used (corrupt, locked, or written by an incompatible version)."""


class ScoringError(LlmcertError):
    """A scorer could not produce a score (not the same as a wrong answer)."""


class SupplyChainError(LlmcertError):
    """An artefact cannot be scanned, identified, described or signed (not a finding)."""


__all__ = [
    "AuthenticationError",
    "BackendUnavailable",
    "IdentityChanged",
    "JournalError",
    "LlmcertError",
    "MalformedResponse",
    "ModelError",
    "ModelRefError",
    "ModelTimeout",
    "RateLimited",
    "RequestRejected",
    "ScoringError",
    "ServerError",
    "SpecError",
    "SupplyChainError",
]
