"""``llmcert sign`` and ``llmcert verify``: OpenSSF model signature plus signed attestations.

Keys are PEM files; an encrypted private key's passphrase comes from
``$LLMCERT_KEY_PASSPHRASE``, never from an option, so it stays out of shell
history and process listings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmcert.cli._bom import read_json_file

EXIT_VERIFY_FAILED = 1


def sign_command(
    path: Annotated[Path, typer.Argument(help="Model file or folder to sign.")],
    key: Annotated[
        Path,
        typer.Option(
            "--key", help="ECDSA private key (PEM); passphrase from $LLMCERT_KEY_PASSPHRASE."
        ),
    ],
    scan: Annotated[
        Path | None, typer.Option("--scan", help="Scan report (JSON) to attest.")
    ] = None,
    bom: Annotated[Path | None, typer.Option("--bom", help="AI-BOM (JSON) to attest.")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Signature folder (default: PATH.signature beside it)."
        ),
    ] = None,
) -> None:
    """Sign a model (OpenSSF Model Signing) and attest its scan report and BOM."""
    from llmcert.supplychain.signing import sign_model

    attach = [read_json_file(p, what) for p, what in ((scan, "scan report"), (bom, "BOM")) if p]
    bundle = sign_model(path, key, attach=attach, output=output)
    typer.echo(f"signed: {path} ({bundle.root_digest})")
    typer.echo(f"model signature: {bundle.model_signature}")
    typer.echo(f"identity attestation: {bundle.identity}")
    for kind, where in sorted(bundle.attestations.items()):
        typer.echo(f"{kind} attestation: {where}")


def verify_command(
    path: Annotated[Path, typer.Argument(help="Model file or folder to verify.")],
    key: Annotated[Path, typer.Option("--key", help="Public key (PEM) of the signer.")],
    signature: Annotated[
        Path | None,
        typer.Option("--signature", help="Signature folder (default: PATH.signature beside it)."),
    ] = None,
) -> None:
    """Verify a model and its attestations. Exit 0 verified, 1 not verified, 3 error."""
    from llmcert.supplychain.signing import verify_model

    result = verify_model(path, key, signature_dir=signature)
    if result.ok:
        typer.echo(f"verified: {path} ({result.root_digest}): {', '.join(result.verified)}")
        return
    typer.echo(f"NOT verified: {path}", err=True)
    for failure in result.failures:
        typer.echo(failure.reason)
    raise typer.Exit(EXIT_VERIFY_FAILED)
