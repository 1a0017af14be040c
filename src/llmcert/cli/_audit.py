"""``llmcert audit verify`` and ``audit publish``: the registry's log, checked and anchored.

The registry is ``--registry URL``, else ``$LLMCERT_DATABASE_URL``, else the
local SQLite file. ``verify`` walks the hash chain and reports the first bad
entry; with ``--anchor`` (a signed head the registry published earlier) it
also catches a log cut short or rewritten as a whole; and it re-derives every
certificate, token, filing, model and attachment row from the log, reporting
each row that disagrees. Any finding exits 1. ``publish`` writes the signed
anchor and revocation list (for cron, or a server without ``--anchor``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmcert._safetext import printable

EXIT_BROKEN = 1

RegistryOption = Annotated[
    str | None,
    typer.Option(
        "--registry",
        help="Registry database URL (default $LLMCERT_DATABASE_URL, else the local file).",
    ),
]


def audit_verify_command(
    registry: RegistryOption = None,
    anchor: Annotated[
        Path | None,
        typer.Option("--anchor", help="A signed audit anchor the registry published earlier."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The issuer's public key (PEM), to check the anchor with."),
    ] = None,
) -> None:
    """Check the chain, the anchor and the tables. Exit 0 intact, 1 broken, 3 error."""
    from llmcert.certificates import CertificateError, open_anchor, read_signed
    from llmcert.registry import open_registry, verify_audit, verify_state

    pinned = None
    if anchor is not None:
        if key is None:
            raise CertificateError("--anchor needs --key: the issuer's public key to trust it")
        pinned = open_anchor(read_signed(anchor, "audit anchor"), key)
    with open_registry(registry) as store:
        report = verify_audit(store, anchor=(pinned.seq, pinned.hash) if pinned else None)
        mismatches = verify_state(store) if report.ok else []
    if not report.ok:
        problem = report.problem.value if report.problem is not None else "unknown"
        typer.echo(
            f"audit log BROKEN at seq {report.first_bad_seq}: {problem} ({report.detail}); "
            f"{report.entries} entries verified before it"
        )
        raise typer.Exit(EXIT_BROKEN)
    where = f", anchored at seq {pinned.seq} ({pinned.published_at})" if pinned else ""
    if mismatches:
        typer.echo(
            f"audit log intact{where}, but {len(mismatches)} row(s) disagree with it "
            "(edited outside the registry):"
        )
        for mismatch in mismatches[:50]:
            typer.echo(f"  {printable(str(mismatch))}")
        raise typer.Exit(EXIT_BROKEN)
    typer.echo(
        f"audit log intact: {report.entries} entries, head seq {report.head_seq} "
        f"({report.head_hash}){where}; every row agrees with it"
    )


def audit_publish_command(
    key: Annotated[
        Path,
        typer.Option(
            "--key",
            envvar="LLMCERT_SIGNING_KEY",
            help="The issuer's private key (PEM); passphrase from $LLMCERT_KEY_PASSPHRASE.",
        ),
    ],
    registry: RegistryOption = None,
    anchor: Annotated[
        Path | None, typer.Option("--anchor", help="Write the signed audit head here.")
    ] = None,
    revocations: Annotated[
        Path | None, typer.Option("--revocations", help="Write the signed revocation list here.")
    ] = None,
    issuer: Annotated[str, typer.Option(help="Issuer name in the documents.")] = "llmcert registry",
) -> None:
    """Sign and write the audit anchor and the revocation list. Exit 0 written, 3 error."""
    from llmcert.errors import LlmcertError
    from llmcert.registry import open_registry
    from llmcert.services.publish import publish_registry

    if anchor is None and revocations is None:
        raise LlmcertError("nothing to publish: give --anchor FILE, --revocations FILE or both")
    with open_registry(registry) as store:
        done = publish_registry(
            store, private_key_path=key, issuer=issuer, anchor=anchor, revocations=revocations
        )
    typer.echo(f"published: head seq {done.seq} ({done.head_hash}); {done.revoked} revoked")
