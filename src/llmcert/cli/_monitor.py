"""``llmcert monitor``: re-test certified models and suspend certificates that no longer hold."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from llmcert.services.monitor import MonitorFinding

#: Exit codes of a ``--once`` run (3, an error, is shared by every command).
EXIT_NOTHING_SUSPENDED, EXIT_SUSPENDED = 0, 1


def monitor_command(
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help="Registry database URL; default $LLMCERT_DATABASE_URL, else the local file. "
            "Keep passwords in the environment variable, not on the command line.",
        ),
    ] = None,
    sample: Annotated[
        int, typer.Option("--sample", "-n", min=1, help="Items drawn per suite on each check.")
    ] = 50,
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha",
            min=1e-9,
            max=0.5,
            help="Chance that one check suspends an unchanged model (Holm across requirements).",
        ),
    ] = 0.01,
    webhook: Annotated[
        str | None,
        typer.Option(
            "--webhook",
            envvar="LLMCERT_MONITOR_WEBHOOK",
            show_envvar=True,
            help="http(s) URL to POST a JSON notice of each suspension or failed check to.",
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Check every certificate once, then exit.")
    ] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", min=1.0, help="Seconds between checks when not --once."),
    ] = 3600.0,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Directory for monitor.jsonl and the re-tests."),
    ] = Path("llmcert-monitor"),
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", help="Fixed item-sampling seed (default: a fresh sample each check)."
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=4096, help="Parallel model calls.")
    ] = 8,
    same_hardware: Annotated[
        bool,
        typer.Option(
            "--same-hardware",
            help="Re-test only on the hardware class the certificate was assessed on; "
            "otherwise a re-test on another class runs, but a regression it finds is "
            "reported, not acted on.",
        ),
    ] = False,
) -> None:
    """Re-test every valid certificate's model; suspend on a changed identity or a regression.

    With --once: exit 0 when nothing was suspended, 1 when something was, 3 on an error.
    """
    from llmcert.services.monitor import MonitorRequest, monitor_sync

    request = MonitorRequest(
        registry_url=registry,
        sample=sample,
        alpha=alpha,
        webhook=webhook,
        seed=seed,
        output=output,
        once=once,
        interval_s=interval,
        concurrency=concurrency,
        same_hardware=same_hardware,
    )
    findings = monitor_sync(request, on_round=_print_round)
    typer.echo(f"log: {output / 'monitor.jsonl'}")
    suspended = any(f.suspended for f in findings)
    raise typer.Exit(EXIT_SUSPENDED if suspended else EXIT_NOTHING_SUSPENDED)


def _print_round(findings: list[MonitorFinding]) -> None:
    certificates = {f.certificate_id for f in findings}
    suspended = {f.certificate_id for f in findings if f.suspended}
    errors = sum(1 for f in findings if f.outcome == "error")
    for f in findings:
        if f.outcome == "ok":
            continue
        what = f.requirement or f.check
        mark = "SUSPENDED" if f.suspended else f.outcome.upper()
        typer.echo(f"{f.certificate_id} {what}: {mark} — {f.detail}")
    when = findings[0].checked_at if findings else "now"
    typer.echo(
        f"checked {len(certificates)} certificate(s) at {when}: "
        f"{len(suspended)} suspended, {errors} check error(s)"
    )
