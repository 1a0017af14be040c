"""``llmcert scan``: supply-chain checks on a model file or directory, without loading it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from llmcert.supplychain.scan import ScanReport

#: Exit code when blocking findings exist (errors exit 3 through the app's handler).
EXIT_BLOCKING = 1
_SEVERITIES = ("critical", "high", "medium", "low", "info")
_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def scan_command(
    path: Annotated[Path, typer.Argument(help="Model file or directory to scan.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full report as JSON to this file.")
    ] = None,
    sarif_out: Annotated[
        Path | None, typer.Option("--sarif", help="Write findings as SARIF 2.1.0 to this file.")
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Lowest severity that blocks (exit 1): critical, high, medium, low or info.",
        ),
    ] = "high",
) -> None:
    """Scan model artefacts (pickle, PyTorch, joblib, safetensors, GGUF, NumPy, ONNX, Keras, HF files) for supply-chain risks."""

    from llmcert._fileio import write_json_atomic, write_text_atomic
    from llmcert.supplychain.scan import SupplyChainError, scan_path

    if fail_on.lower() not in _SEVERITIES:
        raise SupplyChainError(
            f"--fail-on must be one of {', '.join(_SEVERITIES)}, not {fail_on!r}"
        )
    report = scan_path(path, fail_on=fail_on.lower())
    _print_report(report)
    try:
        if json_out is not None:
            write_text_atomic(json_out, report.to_json() + "\n")
        if sarif_out is not None:
            write_json_atomic(sarif_out, report.to_sarif())
    except OSError as exc:
        raise SupplyChainError(f"cannot write report: {exc}") from exc
    if report.blocking:
        raise typer.Exit(EXIT_BLOCKING)


def _print_report(report: ScanReport) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    order = {s: i for i, s in enumerate(_SEVERITIES)}
    findings = sorted(report.findings, key=lambda f: (order[f.severity.value], f.file, f.id))
    if findings:
        table = Table(title=f"llmcert scan: {len(findings)} finding(s)", show_lines=False)
        for column in ("severity", "id", "file", "engine", "evidence"):
            table.add_column(column, overflow="fold")
        for f in findings:
            where = f.file + (f" :: {f.member}" if f.member else "")
            severity = f.severity.value + (" (blocking)" if f.blocking else "")
            table.add_row(
                f"[{_STYLE[f.severity.value]}]{severity}[/]",
                f.id,
                escape(where),
                f.engine,
                escape(f.evidence),
            )
        console.print(table)
    s = report.summary
    formats = ", ".join(f"{k} {v}" for k, v in sorted(s.by_format.items()))
    verdict = "[red]BLOCKED[/]" if report.blocking else "[green]no blocking findings[/]"
    console.print(
        f"{s.files} file(s) ({escape(formats)}), {s.findings} finding(s), "
        f"{s.blocking} blocking at --fail-on {report.fail_on.value}: {verdict}",
        soft_wrap=True,
    )
