"""DSSE envelopes over in-toto Statement v1, signed with ECDSA.

The signature covers the DSSE pre-authentication encoding
``"DSSEv1" SP len(type) SP type SP len(body) SP body`` (lengths as ASCII
decimals of the byte counts), so neither the payload type nor the payload can be
swapped without breaking it. The statement's subject is the model's root digest.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmcert.supplychain.signing._keys import key_id

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import (
        EllipticCurvePrivateKey,
        EllipticCurvePublicKey,
    )

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_BASE = "https://llmcert.dev/attestations/"
PREDICATES = {
    "identity": PREDICATE_BASE + "identity/v1",
    "scan": PREDICATE_BASE + "scan/v1",
    "bom": PREDICATE_BASE + "bom/v1",
}


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _hash_for(key: EllipticCurvePrivateKey | EllipticCurvePublicKey) -> Any:
    from cryptography.hazmat.primitives import hashes

    return {256: hashes.SHA256(), 384: hashes.SHA384()}.get(key.curve.key_size, hashes.SHA512())


def statement(
    subject_name: str, root_digest: str, predicate_type: str, predicate: Any
) -> dict[str, Any]:
    algo, _, hexdigest = root_digest.partition(":")
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {algo: hexdigest}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }


def sign_envelope(stmt: dict[str, Any], key: EllipticCurvePrivateKey) -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric import ec

    payload = json.dumps(stmt, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    sig = key.sign(pae(PAYLOAD_TYPE, payload), ec.ECDSA(_hash_for(key)))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(sig).decode()}],
    }


@dataclass(frozen=True)
class Opened:
    """An envelope whose signature was checked: the statement, or why it cannot be trusted."""

    statement: dict[str, Any] | None
    problem: str | None = None
    kind: str | None = None


def open_envelope(envelope: Any, key: EllipticCurvePublicKey) -> Opened:
    """Check one envelope against ``key``; never trust the payload before that."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        sigs = envelope["signatures"]
        if not isinstance(payload_type, str) or not isinstance(sigs, list) or not sigs:
            raise TypeError("no signatures")
    except (KeyError, TypeError, binascii.Error) as exc:
        return Opened(None, f"malformed DSSE envelope ({exc})", "attestation-malformed")
    if payload_type != PAYLOAD_TYPE:
        return Opened(
            None, f"payload type {payload_type!r} is not in-toto", "attestation-malformed"
        )
    want = key_id(key)
    ours = [s for s in sigs if isinstance(s, dict) and s.get("keyid") in (want, "", None)]
    if not ours:
        other = ", ".join(str(s.get("keyid", "?"))[:16] for s in sigs if isinstance(s, dict))
        return Opened(None, f"signed by another key ({other}…), not {want[:16]}…", "wrong-key")
    for s in ours:
        try:
            key.verify(
                base64.b64decode(s["sig"]), pae(payload_type, payload), ec.ECDSA(_hash_for(key))
            )
            break
        except (InvalidSignature, KeyError, TypeError, binascii.Error):
            continue
    else:
        return Opened(None, "signature does not verify", "attestation-signature-invalid")
    try:
        stmt = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Opened(None, f"signed payload is not JSON ({exc})", "attestation-malformed")
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        return Opened(
            None, "signed payload is not an in-toto Statement v1", "attestation-malformed"
        )
    return Opened(stmt)


def subject_digests(stmt: dict[str, Any]) -> list[str]:
    """``algo:hex`` for every subject digest of a statement."""
    out = []
    for subject in stmt.get("subject") or []:
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict):
            out += [f"{a}:{h}" for a, h in subject["digest"].items()]
    return out
