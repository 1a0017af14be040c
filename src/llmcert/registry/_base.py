"""Sessions, clock and validation shared by the registry's operations.

Every write runs in one transaction that also appends its audit entry, so a
change and its record commit together or not at all. Writes are serialised
(BEGIN IMMEDIATE on SQLite, the audit table lock on PostgreSQL): the registry
sees few writes, and serial writes make every status check race-free.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from llmcert._hashing import canonical_json
from llmcert._safetext import check_name
from llmcert.registry._audit import append_entry, lock_chain
from llmcert.registry._errors import RecordNotFound, RegistryError
from llmcert.registry._schema import Base
from llmcert.registry._states import CertificateStatus, FilingStatus

#: Execution option that makes an SQLite transaction start with BEGIN IMMEDIATE.
WRITE_OPTION = "llmcert_registry_write"

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_Row = TypeVar("_Row", bound=Base)
_Status = TypeVar("_Status", FilingStatus, CertificateStatus)


def new_id() -> str:
    return uuid.uuid4().hex


def check_text(value: str, field: str, max_length: int = 200, *, free_text: bool = False) -> str:
    """Non-empty, bounded, and free of control and formatting characters (NUL included).

    The same rule on SQLite and PostgreSQL: PostgreSQL cannot store NUL, so
    SQLite must refuse it too, and a name with an escape sequence must not
    reach a certificate or a terminal.
    """
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(f"{field} must be a non-empty string")
    if len(value) > max_length:
        raise RegistryError(f"{field} is longer than {max_length} characters")
    try:
        check_name(value, field, free_text=free_text)
    except ValueError as exc:
        raise RegistryError(str(exc)) from None
    return value


def check_digest(value: str, field: str) -> str:
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise RegistryError(f"{field} must look like 'sha256:<64 hex digits>'")
    return value


def check_aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise RegistryError(f"{field} must be timezone-aware")
    return value.astimezone(UTC)


def json_document(value: Mapping[str, Any], field: str) -> dict[str, Any]:
    """A copy as it will read back from the database; refuses what JSON cannot hold."""
    try:
        document: dict[str, Any] = json.loads(canonical_json(dict(value)))
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{field} is not a JSON document: {exc}") from None
    return document


def parse_status(kind: type[_Status], value: _Status | str) -> _Status:
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(s.value for s in kind)
        raise RegistryError(f"unknown status {value!r}; statuses are: {names}") from None


class StoreBase:
    """The transaction plumbing; the operations live in the subclasses."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> datetime:
        return check_aware(self._clock(), "the registry clock")

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._writer() as session, session.begin():
            lock_chain(session)
            yield session

    def _audit(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        subject: str,
        payload: Mapping[str, Any],
        at: datetime | None = None,
    ) -> None:
        append_entry(
            session,
            at=at or self._now(),
            actor=check_text(actor, "actor"),
            action=action,
            subject=subject,
            payload=payload,
        )

    @staticmethod
    def _get(session: Session, row_type: type[_Row], record_id: str, kind: str) -> _Row:
        if "\x00" in record_id:  # no id holds NUL, and PostgreSQL cannot even compare it
            raise RecordNotFound(kind, record_id.replace("\x00", "\\x00"))
        row = session.get(row_type, record_id)
        if row is None:
            raise RecordNotFound(kind, record_id)
        return row
