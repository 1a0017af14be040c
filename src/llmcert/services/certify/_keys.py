"""The issuer key of a certification run: the configured one, or a pair made once.

A made key is written with mode 0600 from the first byte (never chmod-ed
afterwards), and encrypted with ``$LLMCERT_KEY_PASSPHRASE`` when that is set.
Neither the key nor the passphrase is ever printed or logged.
"""

from __future__ import annotations

import os
from pathlib import Path

ISSUER_KEY_FILE = "issuer-key.pem"
ISSUER_PUBLIC_KEY_FILE = "issuer-key.pub.pem"


def default_key_path(output: Path) -> Path:
    return output / ISSUER_KEY_FILE


def issuer_key(key: Path | None, output: Path) -> tuple[Path, Path | None]:
    """The signing key, and the public key's path when the pair was made by this call."""
    if key is not None:
        return key, None
    private, public = default_key_path(output), output / ISSUER_PUBLIC_KEY_FILE
    made = not private.exists()
    if made:
        _generate(private)
    if made or not public.exists():
        _write_public(private, public)
    return private, public if made else None


def _generate(private: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from llmcert.supplychain.signing._keys import passphrase_from_env

    passphrase = passphrase_from_env()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    private.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _write_public(private: Path, public: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    from llmcert._fileio import write_atomic
    from llmcert.supplychain.signing._keys import load_private_key

    key = load_private_key(private).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_atomic(public, pem)
