"""OpenSSF Model Signing (``model-signing`` 1.1.x) with a local ECDSA key.

Pitfalls handled here: ``pyopenssl`` must be installed for the package to
import; a ``verifying.Config`` learns the hashing settings of the first model it
checks, so a fresh one is built for every verification; the signature's own
folder is excluded from hashing when it sits inside the model; and the digest is
always sha256 (a blake2 manifest cannot be verified back with this release).
The same exclusions are given on both sides, so what is signed is what is checked.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from llmcert.supplychain.signing._keys import SigningError

_INSTALL = "pip install model-signing pyopenssl"


def _import() -> tuple[Any, Any, Any]:
    try:
        from model_signing import hashing, signing, verifying
    except ImportError as exc:
        raise SigningError(
            f"OpenSSF model signing needs model-signing and pyopenssl ({exc}); install: {_INSTALL}"
        ) from exc
    return hashing, signing, verifying


def _hashing_config(hashing: Any, ignore: Collection[str]) -> Any:
    return (
        hashing.Config()
        .use_file_serialization(hashing_algorithm="sha256", allow_symlinks=False)
        .set_ignored_paths(paths=sorted(ignore), ignore_git_paths=False)
    )


def sign(
    model: Path, private_key: Path, passphrase: bytes | None, out: Path, ignore: Collection[str]
) -> None:
    """Write the Sigstore-format bundle for ``model`` to ``out``."""
    hashing, signing, _ = _import()
    config = signing.Config().set_hashing_config(_hashing_config(hashing, ignore))
    try:
        # The library types the password as str but hands it to cryptography, which wants bytes.
        config.use_elliptic_key_signer(private_key=private_key, password=passphrase)
        config.sign(model, out)
    except (ValueError, TypeError, OSError) as exc:
        # Key loading was already checked by our own loader, so this is about the files.
        raise SigningError(f"OpenSSF model signing failed: {str(exc)[:200]}") from None


def verify(
    model: Path, public_key: Path, bundle: Path, ignore: Collection[str]
) -> tuple[str, str] | None:
    """``None`` when the bundle verifies, else ``(kind, reason)``."""
    from cryptography.exceptions import InvalidSignature

    hashing, _, verifying = _import()
    config = verifying.Config()  # fresh each time: a used Config keeps the last model's settings
    config.use_elliptic_key_verifier(public_key=public_key)
    config.set_hashing_config(_hashing_config(hashing, ignore))
    try:
        config.verify(model, bundle)
    except InvalidSignature:
        return "signature-invalid", "OpenSSF model signature does not verify (bundle altered)"
    except ValueError as exc:
        text = str(exc)
        if text.startswith("Key mismatch"):
            return "wrong-key", "OpenSSF model signature was made with another key"
        if text.startswith("Signature mismatch"):
            return "content-mismatch", "model files differ from the OpenSSF signed manifest"
        return "signature-malformed", f"OpenSSF model signature cannot be read ({text[:200]})"
    except Exception as exc:  # untrusted bundle: the library raises many kinds on bad input
        return (
            "signature-malformed",
            f"OpenSSF model signature cannot be read ({type(exc).__name__})",
        )
    return None


def signed_digests(bundle: Path) -> dict[str, str]:
    """``{relative path: hex sha256}`` from a bundle just written (no signature check: ours)."""
    data = json.loads(bundle.read_text("utf-8"))
    stmt = json.loads(base64.b64decode(data["dsseEnvelope"]["payload"]))
    return {str(r["name"]): str(r["digest"]) for r in stmt["predicate"]["resources"]}
