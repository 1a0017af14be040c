"""``llmcert compare``: two results of one suite side by side, conditions first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def compare_command(
    a: Annotated[Path, typer.Argument(help="First result.json (e.g. the reference run).")],
    b: Annotated[Path, typer.Argument(help="Second result.json.")],
    same_hardware: Annotated[
        bool,
        typer.Option(
            "--same-hardware",
            help="Refuse (exit 3) when the results' hardware classes differ, instead of warning.",
        ),
    ] = False,
) -> None:
    """Compare two evaluation results: figures, unit-by-unit agreement, differing conditions.

    In-process answers depend on the CPU's instruction set, so results from two
    hardware classes are compared with a warning (or refused with --same-hardware).
    """
    from llmcert.services.compare import compare_results, describe

    comparison = compare_results(a, b, same_hardware=same_hardware)
    for line in describe(comparison):
        typer.echo(line)
    for warning in comparison.warnings:
        typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
