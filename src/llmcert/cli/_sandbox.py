"""``llmcert sandbox``: check the isolation model-written code runs under."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from llmcert.cli._errors import handle_errors

sandbox_app = typer.Typer(
    name="sandbox", help="Check the sandbox that runs model-written code.", no_args_is_help=True
)


@sandbox_app.command("check")
@handle_errors
def check_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object instead of lines.")
    ] = False,
) -> None:
    """Try every escape in the suite; one line per attempt with the layer that stopped it.

    Exits 1 if any attempt escaped, 3 if a layer is missing (nothing is run then).
    """
    from llmcert.sandbox import LAYERS, SandboxPolicy, run_escape_suite

    policy = SandboxPolicy()
    results = run_escape_suite(policy)
    escaped = [r for r in results if not r.stopped]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "policy_digest": policy.digest(),
                    "passed": not escaped,
                    "probes": [r.__dict__ for r in results],
                },
                indent=2,
            )
        )
    else:
        typer.echo(f"policy {policy.digest()}")
        typer.echo("layers: " + " → ".join(layer.name for layer in LAYERS))
        for r in results:
            typer.echo(r.line())
        verdict = (
            f"{len(escaped)} of {len(results)} attempts ESCAPED"
            if escaped
            else (f"all {len(results)} attempts stopped")
        )
        typer.echo(verdict)
    if escaped:
        raise typer.Exit(1)
