"""Outbound calls made on an applicant's behalf: egress policy, operator credentials, safe errors.

A registry server calls endpoints its applicants name. Everything about those
calls that the operator, not the applicant, must decide lives here: which
addresses may be reached (:class:`EgressPolicy`, enforced at connect time by
:class:`PolicyResolver`), which origin gets which API key
(:class:`CredentialMap`), and what an applicant may read back about a failure
(:func:`classify`). :class:`Egress` puts them together.
"""

from llmcert.egress._credentials import CredentialMap, Secret, origin_of
from llmcert.egress._outbound import (
    DEFAULT_SCHEMES,
    ClassifiedBackend,
    Egress,
    OutboundRefused,
    classify,
)
from llmcert.egress._policy import (
    EgressDenied,
    EgressPolicy,
    PolicyResolver,
    is_public,
    literal_address,
)

__all__ = [
    "DEFAULT_SCHEMES",
    "ClassifiedBackend",
    "CredentialMap",
    "Egress",
    "EgressDenied",
    "EgressPolicy",
    "OutboundRefused",
    "PolicyResolver",
    "Secret",
    "classify",
    "is_public",
    "literal_address",
    "origin_of",
]
