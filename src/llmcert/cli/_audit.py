"""``llmcert audit verify``: walk the registry's hash-chained audit log.

The registry is ``--registry URL``, else ``$LLMCERT_DATABASE_URL``, else the
local SQLite file. A broken chain is reported at its first bad entry, with
what is wrong there, and exits 1.
"""

from __future__ import annotations

from typing import Annotated

import typer

EXIT_BROKEN = 1


def audit_verify_command(
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help="Registry database URL (default $LLMCERT_DATABASE_URL, else the local file).",
        ),
    ] = None,
) -> None:
    """Check every audit entry's hash and link. Exit 0 intact, 1 broken, 3 error."""
    from llmcert.registry import open_registry, verify_audit

    with open_registry(registry) as store:
        report = verify_audit(store)
    if report.ok:
        typer.echo(
            f"audit log intact: {report.entries} entries, head seq {report.head_seq} "
            f"({report.head_hash})"
        )
        return
    problem = report.problem.value if report.problem is not None else "unknown"
    typer.echo(
        f"audit log BROKEN at seq {report.first_bad_seq}: {problem} ({report.detail}); "
        f"{report.entries} entries verified before it"
    )
    raise typer.Exit(EXIT_BROKEN)
