"""Signing keys: read from PEM files, passphrase only from the environment.

A passphrase on a command line ends up in shell history and ``ps``; it is read
from ``LLMCERT_KEY_PASSPHRASE`` instead. Key material is never put in an error
message or a log line: errors name the file, never its contents.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from llmcert.errors import SupplyChainError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import (
        EllipticCurvePrivateKey,
        EllipticCurvePublicKey,
    )

PASSPHRASE_ENV = "LLMCERT_KEY_PASSPHRASE"
_CURVES = ("secp256r1", "secp384r1", "secp521r1")
_INSTALL = "pip install model-signing pyopenssl cryptography"


class SigningError(SupplyChainError):
    """Signing or verification cannot proceed (unreadable key, missing tool); not a failed check."""


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read {what} {path}: {exc.strerror}") from None


def _check_curve(curve_name: str, path: Path) -> None:
    if curve_name not in _CURVES:
        raise SigningError(
            f"{path}: key on curve {curve_name} is not supported; use ECDSA P-256, P-384 or P-521"
        )


def passphrase_from_env() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def load_private_key(path: Path) -> EllipticCurvePrivateKey:
    """An ECDSA private key from a PEM file (encrypted keys use ``$LLMCERT_KEY_PASSPHRASE``)."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError as exc:  # pragma: no cover - install hint
        raise SigningError(f"signing needs cryptography ({exc}); install: {_INSTALL}") from exc
    data = _read(path, "private key")
    try:
        key = load_pem_private_key(data, password=passphrase_from_env())
    except TypeError as exc:
        hint = f"set {PASSPHRASE_ENV}" if "not given" in str(exc) else f"unset {PASSPHRASE_ENV}"
        raise SigningError(f"{path}: passphrase problem ({hint})") from None
    except ValueError:
        raise SigningError(
            f"{path}: not a readable PEM private key (or wrong passphrase in {PASSPHRASE_ENV})"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SigningError(f"{path}: not an elliptic-curve key; model signing needs ECDSA")
    _check_curve(key.curve.name, path)
    return key


def load_public_key(path: Path) -> EllipticCurvePublicKey:
    try:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
    except ImportError as exc:  # pragma: no cover - install hint
        raise SigningError(f"verification needs cryptography ({exc}); install: {_INSTALL}") from exc
    data = _read(path, "public key")
    try:
        key = load_pem_public_key(data)
    except ValueError:
        raise SigningError(f"{path}: not a readable PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SigningError(f"{path}: not an elliptic-curve public key")
    _check_curve(key.curve.name, path)
    return key


def key_id(public_key: EllipticCurvePublicKey) -> str:
    """sha256 of the DER SubjectPublicKeyInfo: names a key without revealing anything secret."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()
