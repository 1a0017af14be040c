"""What a server is started with: the issuer's keys and the limits on what it accepts.

Both are plain frozen data handed to ``create_app``, so a test, the CLI and a
benchmark each build the server they need without touching globals. The private
key's passphrase is never held here: the key loader reads it from the
environment (``LLMCERT_KEY_PASSPHRASE``) at the moment of signing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llmcert.errors import LlmcertError

SIGNING_KEY_ENV = "LLMCERT_SIGNING_KEY"
PUBLIC_KEY_ENV = "LLMCERT_SIGNING_PUBLIC_KEY"
ISSUER_ENV = "LLMCERT_ISSUER"

_KIB = 1 << 10
_MIB = 1 << 20

#: Evidence documents a filing may carry; anything else is refused with 415.
DEFAULT_MEDIA_TYPES = frozenset(
    {
        "application/pdf",
        "application/json",
        "application/yaml",
        "application/x-yaml",
        "text/plain",
        "text/markdown",
        "text/csv",
        "text/yaml",
    }
)


def default_public_key_path(private_key_path: Path) -> Path:
    """``issuer.pem`` → ``issuer.pub.pem``: where the matching public key is looked for."""
    name = private_key_path.name
    stem = name[: -len(".pem")] if name.endswith(".pem") else name
    return private_key_path.with_name(stem + ".pub.pem")


@dataclass(frozen=True)
class SigningConfig:
    """The issuer: who signs certificates, with which key pair, for how long."""

    private_key_path: Path
    public_key_path: Path
    issuer: str = "llmcert registry"
    validity_days: int = 365

    def check(self) -> str:
        """Load both keys and make sure they pair; returns the key id (fail at start, not at approval)."""
        from llmcert.supplychain.signing._keys import key_id, load_private_key, load_public_key

        private = load_private_key(self.private_key_path)
        public = load_public_key(self.public_key_path)
        if key_id(private.public_key()) != key_id(public):
            raise LlmcertError(
                f"{self.public_key_path} is not the public half of {self.private_key_path}"
            )
        return key_id(public)

    @classmethod
    def from_env(
        cls,
        key: Path | str | None = None,
        *,
        public_key: Path | str | None = None,
        issuer: str | None = None,
        validity_days: int = 365,
        environ: Mapping[str, str] | None = None,
    ) -> SigningConfig:
        """Arguments first, then ``LLMCERT_SIGNING_KEY`` / ``LLMCERT_SIGNING_PUBLIC_KEY``."""
        env = os.environ if environ is None else environ
        raw = key if key is not None else env.get(SIGNING_KEY_ENV, "")
        if not raw:
            raise LlmcertError(
                f"no signing key: pass --key or set {SIGNING_KEY_ENV} to an ECDSA private key (PEM)"
            )
        private = Path(raw)
        pub_raw = public_key if public_key is not None else env.get(PUBLIC_KEY_ENV, "")
        public = Path(pub_raw) if pub_raw else default_public_key_path(private)
        return cls(
            private_key_path=private,
            public_key_path=public,
            issuer=issuer or env.get(ISSUER_ENV, "") or "llmcert registry",
            validity_days=validity_days,
        )


#: Routes whose body is a filing with its attachments; every other body is small.
UPLOAD_ROUTES = frozenset({("POST", "/api/v1/filings"), ("POST", "/filings")})
#: Routes whose body is a certificate to verify.
VERIFY_ROUTES = frozenset({("POST", "/api/v1/verify"), ("POST", "/verify")})


@dataclass(frozen=True)
class Limits:
    """Bounds on what a request may carry and how often, all configuration data.

    Every endpoint has a body limit sized to what it takes: a filing's
    attachments, a certificate (a DSSE envelope is a few KiB), or a small JSON
    or form body. They are enforced while the body streams in, before parsing.
    """

    max_attachment_bytes: int = 10 * _MIB
    max_attachments: int = 16
    max_certificate_bytes: int = 64 * _KIB
    allowed_media_types: frozenset[str] = field(default=DEFAULT_MEDIA_TYPES)
    #: Whole filing request body; None means enough for the largest allowed filing.
    max_request_bytes: int | None = None
    #: Any other body (a model registration, a decision, a login form).
    max_small_body_bytes: int = 16 * _KIB
    #: Requests per second one client may make without credentials, and its burst.
    anonymous_rate: float = 5.0
    anonymous_burst: int = 50
    #: Per applicant: filings not yet decided, and attachment bytes across all filings.
    max_open_filings: int = 5
    max_applicant_attachment_bytes: int = 256 * _MIB
    #: Browser sessions end this many seconds after sign-in, or after this long idle.
    session_lifetime: float = 8 * 3600
    session_idle: float = 30 * 60

    @property
    def request_bytes(self) -> int:
        if self.max_request_bytes is not None:
            return self.max_request_bytes
        return self.max_attachment_bytes * self.max_attachments + _MIB

    def body_bytes(self, method: str, path: str) -> int:
        """The body limit of one route."""
        route = (method.upper(), path.rstrip("/") or "/")
        if route in UPLOAD_ROUTES:
            return self.request_bytes
        if route in VERIFY_ROUTES:
            # JSON or form wrapping, and a form's percent-encoding, on top of the document.
            return 3 * self.max_certificate_bytes + 4 * _KIB
        return self.max_small_body_bytes


@dataclass(frozen=True)
class Publishing:
    """Where the server publishes its signed audit anchor and revocation list, and how often.

    Each is rewritten when the audit log's head has moved since the last time,
    checked every ``interval`` seconds (and once at start).
    """

    anchor: Path | None = None
    revocations: Path | None = None
    interval: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.anchor is not None or self.revocations is not None
