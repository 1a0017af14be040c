"""The typer application and the rendering of errors as one clear line."""

from __future__ import annotations

from typing import Annotated

import typer

from llmcert._version import __version__
from llmcert.cli._assess import assess_command
from llmcert.cli._attack import attack_command
from llmcert.cli._audit import audit_publish_command, audit_verify_command
from llmcert.cli._bom import bom_command
from llmcert.cli._certify import cert_verify_command, certify_command
from llmcert.cli._compare import compare_command
from llmcert.cli._errors import EXIT_ERROR, command_started, handle_errors
from llmcert.cli._eval import eval_command
from llmcert.cli._judge import judge_llm_command, judge_refusal_command
from llmcert.cli._judge_measure import (
    judge_agreement_command,
    judge_calibrate_command,
    judge_sample_command,
)
from llmcert.cli._monitor import monitor_command
from llmcert.cli._perf import perf_command
from llmcert.cli._plan import plan_command
from llmcert.cli._sandbox import sandbox_app
from llmcert.cli._scan import scan_command
from llmcert.cli._serve import serve_app
from llmcert.cli._sign import sign_command, verify_command
from llmcert.cli._standards import standards_app

app = typer.Typer(
    name="llmcert",
    help="Standards-based testing, verification and certification of LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmcert {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Standards-based testing, verification and certification of LLMs."""


app.command("eval")(handle_errors(eval_command))
app.command("scan")(handle_errors(scan_command))
app.command("bom")(handle_errors(bom_command))
app.command("sign")(handle_errors(sign_command))
app.command("verify")(handle_errors(verify_command))
app.command("plan")(handle_errors(plan_command))
app.command("assess")(handle_errors(assess_command))
app.command("certify")(handle_errors(certify_command))
app.command("monitor")(handle_errors(monitor_command))
app.command("attack")(handle_errors(attack_command))
app.command("compare")(handle_errors(compare_command))
app.command("perf")(handle_errors(perf_command))

judge_app = typer.Typer(
    name="judge",
    help="Label model responses with a judge (offline or an LLM), and measure judges on "
    "human labels.",
    no_args_is_help=True,
)
judge_app.command("refusal")(handle_errors(judge_refusal_command))
judge_app.command("llm")(handle_errors(judge_llm_command))
judge_app.command("agreement")(handle_errors(judge_agreement_command))
judge_app.command("calibrate")(handle_errors(judge_calibrate_command))
judge_app.command("sample")(handle_errors(judge_sample_command))
app.add_typer(judge_app, name="judge")
app.add_typer(standards_app, name="standards")

cert_app = typer.Typer(name="cert", help="Verify certificates offline.", no_args_is_help=True)
cert_app.command("verify")(handle_errors(cert_verify_command))
app.add_typer(cert_app, name="cert")
audit_app = typer.Typer(
    name="audit", help="Check the registry's tamper-evident audit log.", no_args_is_help=True
)
audit_app.command("verify")(handle_errors(audit_verify_command))
audit_app.command("publish")(handle_errors(audit_publish_command))
app.add_typer(audit_app, name="audit")
app.add_typer(serve_app, name="serve")
app.add_typer(sandbox_app, name="sandbox")


def main() -> None:
    """Run the CLI; a command-line usage error exits 3 like every other error, so that
    exit 2 means only "inconclusive" (``assess``) to a CI job."""
    try:
        app(prog_name="llmcert")
    except SystemExit as exc:
        if exc.code == 2 and not command_started():
            raise SystemExit(EXIT_ERROR) from None
        raise


if __name__ == "__main__":  # pragma: no cover
    main()
