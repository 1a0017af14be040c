"""Signing a model and its evidence, and verifying both offline.

``sign_model`` writes a signature folder (by default ``<model>.signature``
beside the model) holding:

* ``model.sig`` — an OpenSSF Model Signing bundle over every file (sha256);
* ``identity.intoto.json`` — a DSSE-signed in-toto statement whose predicate is
  the artefact identity manifest, so verification can *name* each file that was
  added, removed or changed;
* ``scan.intoto.json`` / ``bom.intoto.json`` — DSSE-signed statements carrying
  the scan report and the AI-BOM, each with the model's root digest as subject.

``verify_model`` checks all of them with one public key and returns every
failure with its own kind and reason instead of stopping at the first.
"""

from llmcert.supplychain.signing._signing import (
    PASSPHRASE_ENV,
    SignatureBundle,
    SigningError,
    VerificationFailure,
    VerificationResult,
    default_signature_dir,
    sign_model,
    verify_model,
)

__all__ = [
    "PASSPHRASE_ENV",
    "SignatureBundle",
    "SigningError",
    "VerificationFailure",
    "VerificationResult",
    "default_signature_dir",
    "sign_model",
    "verify_model",
]
