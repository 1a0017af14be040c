"""Signed, offline-verifiable certificates of conformity.

A certificate binds a model (by the digest of its identity, and of its file
where it has one) to a standard version, the digest of the passing assessment,
an issuer key and a validity period. It is an in-toto Statement v1 in a DSSE
envelope signed with the same ECDSA keys as model attestations
(:mod:`llmcert.supplychain.signing`), so anyone holding the issuer's public key
can check it without contacting a registry; revocation is looked up through a
callback the caller supplies.
"""

from llmcert.certificates._errors import CertificateError, VerdictNotCertifiable
from llmcert.certificates._issue import MAX_VALIDITY_DAYS, issue_certificate, write_certificate
from llmcert.certificates._published import (
    Anchor,
    RevocationList,
    open_anchor,
    open_revocations,
    read_signed,
    sign_anchor,
    sign_revocations,
)
from llmcert.certificates._statement import (
    CERTIFICATE_PREDICATE_TYPE,
    CertificatePredicate,
    IssuerInfo,
    StandardRef,
)
from llmcert.certificates._verify import (
    CertificateCheck,
    CertificateStatus,
    RevocationLookup,
    read_certificate,
    verify_certificate,
)

__all__ = [
    "CERTIFICATE_PREDICATE_TYPE",
    "MAX_VALIDITY_DAYS",
    "Anchor",
    "CertificateCheck",
    "CertificateError",
    "CertificatePredicate",
    "CertificateStatus",
    "IssuerInfo",
    "RevocationList",
    "RevocationLookup",
    "StandardRef",
    "VerdictNotCertifiable",
    "issue_certificate",
    "open_anchor",
    "open_revocations",
    "read_certificate",
    "read_signed",
    "sign_anchor",
    "sign_revocations",
    "verify_certificate",
    "write_certificate",
]
