"""The certification registry: models, filings, certificates, tokens, audit chain.

One store over SQLite (embedded, the default) or PostgreSQL (a shared server),
migrated by Alembic when opened. Every change is appended to a hash-chained
audit log in the same transaction; :func:`verify_audit` checks the chain.

Names load on first use (PEP 562), so importing this package does not pull in
SQLAlchemy or Alembic until the registry is actually opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmcert._lazy import lazy_getattr as _lazy_getattr

if TYPE_CHECKING:
    from llmcert.registry._audit import (
        GENESIS_HASH,
        AuditProblem,
        AuditReport,
        entry_hash,
        verify_audit,
    )
    from llmcert.registry._derive import StateMismatch, verify_state
    from llmcert.registry._engine import ENV_VAR, default_database_path, open_registry
    from llmcert.registry._errors import (
        IllegalTransition,
        QuotaExceeded,
        RecordNotFound,
        RegistryError,
    )
    from llmcert.registry._records import (
        AssessmentRecord,
        AttachmentRecord,
        AuditRecord,
        CertificateRecord,
        FilingRecord,
        ModelRecord,
        TokenRecord,
    )
    from llmcert.registry._states import (
        CERTIFICATE_TRANSITIONS,
        FILING_TRANSITIONS,
        CertificateStatus,
        FilingStatus,
        Role,
    )
    from llmcert.registry._store import FilingQuota, NewAttachment, Registry

_WHERE = {
    "GENESIS_HASH": "_audit",
    "AuditProblem": "_audit",
    "AuditReport": "_audit",
    "entry_hash": "_audit",
    "verify_audit": "_audit",
    "StateMismatch": "_derive",
    "verify_state": "_derive",
    "ENV_VAR": "_engine",
    "default_database_path": "_engine",
    "open_registry": "_engine",
    "IllegalTransition": "_errors",
    "QuotaExceeded": "_errors",
    "RecordNotFound": "_errors",
    "RegistryError": "_errors",
    "AssessmentRecord": "_records",
    "AttachmentRecord": "_records",
    "AuditRecord": "_records",
    "CertificateRecord": "_records",
    "FilingRecord": "_records",
    "ModelRecord": "_records",
    "TokenRecord": "_records",
    "CERTIFICATE_TRANSITIONS": "_states",
    "FILING_TRANSITIONS": "_states",
    "CertificateStatus": "_states",
    "FilingStatus": "_states",
    "Role": "_states",
    "FilingQuota": "_store",
    "NewAttachment": "_store",
    "Registry": "_store",
}

__all__ = [
    "CERTIFICATE_TRANSITIONS",
    "ENV_VAR",
    "FILING_TRANSITIONS",
    "GENESIS_HASH",
    "AssessmentRecord",
    "AttachmentRecord",
    "AuditProblem",
    "AuditRecord",
    "AuditReport",
    "CertificateRecord",
    "CertificateStatus",
    "FilingQuota",
    "FilingRecord",
    "FilingStatus",
    "IllegalTransition",
    "ModelRecord",
    "NewAttachment",
    "QuotaExceeded",
    "RecordNotFound",
    "Registry",
    "RegistryError",
    "Role",
    "StateMismatch",
    "TokenRecord",
    "default_database_path",
    "entry_hash",
    "open_registry",
    "verify_audit",
    "verify_state",
]


__getattr__ = _lazy_getattr(__name__, _WHERE, globals())


def __dir__() -> list[str]:
    return sorted(__all__)
