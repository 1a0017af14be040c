"""Errors of the registry store.

::

    LlmcertError
    └── RegistryError            the registry cannot do what was asked
        ├── RecordNotFound       no model, filing, certificate or token with that id
        ├── IllegalTransition    a filing or certificate may not move to that status
        └── QuotaExceeded        an applicant would hold more than its quota allows

A refused request changes nothing: the transaction it ran in is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmcert.errors import LlmcertError


class RegistryError(LlmcertError):
    """The registry cannot carry out a request (bad input, unreachable database)."""


class RecordNotFound(RegistryError):
    """The id names nothing of that kind in this registry."""

    def __init__(self, kind: str, record_id: str) -> None:
        self.kind = kind
        self.record_id = record_id
        super().__init__(f"no {kind} with id {record_id!r} in the registry")


class IllegalTransition(RegistryError):
    """The state machine does not allow the move; ``allowed`` lists what would be."""

    def __init__(
        self,
        kind: str,
        record_id: str,
        current: str,
        target: str,
        allowed: Iterable[str],
        *,
        hint: str = "",
    ) -> None:
        self.kind = kind
        self.record_id = record_id
        self.current = current
        self.target = target
        self.allowed = tuple(sorted(allowed))
        options = ", ".join(self.allowed) if self.allowed else "nothing (final status)"
        message = (
            f"{kind} {record_id!r} cannot go from {current!r} to {target!r}; "
            f"from {current!r} it may go to: {options}"
        )
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class QuotaExceeded(RegistryError):
    """The applicant already holds as many open filings or attachment bytes as allowed."""
