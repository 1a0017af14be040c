"""The statuses of filings, certificates and tokens, and the moves between them.

The tables are data so the store, the server and the docs all read one source.
A filing reaches ``certified`` only by a certificate being added, and leaves it
only through that certificate's status, so the two can never disagree.
"""

from __future__ import annotations

from enum import StrEnum


class FilingStatus(StrEnum):
    SUBMITTED = "submitted"
    ASSESSING = "assessing"
    AWAITING_REVIEW = "awaiting_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    CERTIFIED = "certified"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class CertificateStatus(StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Role(StrEnum):
    """Who a token speaks for: applicants file, assessors assess and decide, admins manage."""

    APPLICANT = "applicant"
    ASSESSOR = "assessor"
    ADMIN = "admin"


F = FilingStatus
C = CertificateStatus

FILING_TRANSITIONS: dict[FilingStatus, frozenset[FilingStatus]] = {
    F.SUBMITTED: frozenset({F.ASSESSING}),
    # Back to submitted only to requeue an assessment a restart interrupted.
    F.ASSESSING: frozenset({F.AWAITING_REVIEW, F.SUBMITTED}),
    F.AWAITING_REVIEW: frozenset({F.APPROVED, F.REJECTED}),
    F.APPROVED: frozenset({F.CERTIFIED}),
    F.REJECTED: frozenset(),
    F.CERTIFIED: frozenset({F.SUSPENDED, F.REVOKED, F.EXPIRED}),
    # A suspension is lifted by reinstating the certificate; it can also end for good.
    F.SUSPENDED: frozenset({F.CERTIFIED, F.REVOKED, F.EXPIRED}),
    F.REVOKED: frozenset(),
    F.EXPIRED: frozenset(),
}

#: Filing statuses that follow the certificate and so are set through it.
CERTIFICATE_BOUND: frozenset[FilingStatus] = frozenset(
    {F.CERTIFIED, F.SUSPENDED, F.REVOKED, F.EXPIRED}
)

CERTIFICATE_TRANSITIONS: dict[CertificateStatus, frozenset[CertificateStatus]] = {
    C.VALID: frozenset({C.SUSPENDED, C.REVOKED, C.EXPIRED}),
    C.SUSPENDED: frozenset({C.VALID, C.REVOKED, C.EXPIRED}),
    C.REVOKED: frozenset(),
    C.EXPIRED: frozenset(),
}

#: The filing status that mirrors each certificate status.
FILING_FOR_CERTIFICATE: dict[CertificateStatus, FilingStatus] = {
    C.VALID: F.CERTIFIED,
    C.SUSPENDED: F.SUSPENDED,
    C.REVOKED: F.REVOKED,
    C.EXPIRED: F.EXPIRED,
}

#: Statuses in which an assessment may still be recorded against a filing.
ASSESSABLE: frozenset[FilingStatus] = frozenset({F.ASSESSING, F.AWAITING_REVIEW})

del F, C
