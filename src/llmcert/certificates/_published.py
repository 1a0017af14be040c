"""What a registry publishes outside its database, signed with the issuer key.

Two documents, each a DSSE envelope over an in-toto statement with its own
predicate type (so neither can be passed off as the other, or as a
certificate):

- an **anchor**: the audit log's head (sequence number and hash) at a moment.
  Kept where the database's users cannot rewrite it, it lets ``llmcert audit
  verify --anchor`` notice a log cut short or rewritten consistently.
- a **revocation list**: every certificate revoked or suspended, with its
  reason, so ``cert verify --revocations`` can refuse a revoked certificate
  offline. It is as fresh as its ``published_at``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from llmcert._hashing import digest_json
from llmcert.certificates._errors import CertificateError

ANCHOR_PREDICATE = "https://llmcert.dev/registry/anchor/v1"
REVOCATIONS_PREDICATE = "https://llmcert.dev/registry/revocations/v1"


def _sign(
    subject: str, digest: str, predicate_type: str, predicate: dict[str, Any], key_path: Path
) -> dict[str, Any]:
    from llmcert.supplychain.signing._dsse import sign_envelope, statement
    from llmcert.supplychain.signing._keys import load_private_key

    return sign_envelope(
        statement(subject, digest, predicate_type, predicate), load_private_key(key_path)
    )


def _open(envelope: Any, public_key_path: Path, predicate_type: str, what: str) -> dict[str, Any]:
    from llmcert.supplychain.signing._dsse import open_envelope
    from llmcert.supplychain.signing._keys import load_public_key

    opened = open_envelope(envelope, load_public_key(public_key_path))
    if opened.statement is None:
        raise CertificateError(f"the {what} cannot be trusted: {opened.problem}")
    if opened.statement.get("predicateType") != predicate_type:
        raise CertificateError(f"the signed document is not a {what}")
    predicate = opened.statement.get("predicate")
    if not isinstance(predicate, dict):
        raise CertificateError(f"the {what} has no content")
    return predicate


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    published_at: str
    issuer: str


def sign_anchor(
    *, seq: int, head_hash: str, published_at: datetime, issuer: str, private_key_path: Path
) -> dict[str, Any]:
    predicate = {
        "seq": seq,
        "hash": head_hash,
        "published_at": published_at.isoformat(),
        "issuer": issuer,
    }
    return _sign("audit-log-head", head_hash, ANCHOR_PREDICATE, predicate, private_key_path)


def open_anchor(envelope: Any, public_key_path: Path) -> Anchor:
    """The anchor, once its signature holds under the issuer's public key."""
    p = _open(envelope, public_key_path, ANCHOR_PREDICATE, "audit anchor")
    try:
        return Anchor(int(p["seq"]), str(p["hash"]), str(p["published_at"]), str(p["issuer"]))
    except (KeyError, TypeError, ValueError):
        raise CertificateError("the audit anchor lacks seq, hash or date") from None


@dataclass(frozen=True)
class RevocationList:
    published_at: str
    issuer: str
    #: certificate id → "revoked: reason" / "suspended: reason"
    entries: Mapping[str, str]

    def reason(self, certificate_id: str) -> str | None:
        return self.entries.get(certificate_id)


def sign_revocations(
    *,
    revoked: Sequence[Mapping[str, str]],
    published_at: datetime,
    issuer: str,
    private_key_path: Path,
) -> dict[str, Any]:
    """``revoked``: one ``{"certificate_id", "status", "reason"}`` per certificate."""
    entries = sorted((dict(r) for r in revoked), key=lambda r: r["certificate_id"])
    predicate = {
        "published_at": published_at.isoformat(),
        "issuer": issuer,
        "certificates": entries,
    }
    return _sign(
        "revocation-list", digest_json(entries), REVOCATIONS_PREDICATE, predicate, private_key_path
    )


def open_revocations(envelope: Any, public_key_path: Path) -> RevocationList:
    p = _open(envelope, public_key_path, REVOCATIONS_PREDICATE, "revocation list")
    try:
        entries = {
            str(e["certificate_id"]): f"{e['status']}: {e.get('reason') or 'no reason given'}"
            for e in p["certificates"]
        }
        return RevocationList(str(p["published_at"]), str(p["issuer"]), entries)
    except (KeyError, TypeError):
        raise CertificateError("the revocation list is malformed") from None


def read_signed(path: Path, what: str) -> Any:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CertificateError(f"{path}: cannot read the {what}: {exc}") from None
