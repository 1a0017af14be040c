"""Errors of certificate issuing and reading (not the outcome of a verification).

A verification never raises for a bad certificate: it returns a status. These
errors mean the request itself cannot be carried out: a verdict that may not be
certified, an unreadable certificate file, a naive clock.
"""

from __future__ import annotations

from llmcert.errors import LlmcertError


class CertificateError(LlmcertError):
    """A certificate cannot be issued or read as asked."""


class VerdictNotCertifiable(CertificateError):
    """Only a PASS assessment is certified; FAIL and INCONCLUSIVE are refused."""

    def __init__(self, verdict: str) -> None:
        self.verdict = verdict
        super().__init__(
            f"cannot certify an assessment whose verdict is {verdict!r}: "
            "a certificate is only issued for a 'pass' verdict"
        )
