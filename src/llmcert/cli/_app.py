"""The typer application and the rendering of errors as one clear line."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer

from llmcert._version import __version__
from llmcert.cli._bom import bom_command
from llmcert.cli._eval import eval_command
from llmcert.cli._judge import judge_refusal_command
from llmcert.cli._plan import plan_command
from llmcert.cli._scan import scan_command
from llmcert.cli._sign import sign_command, verify_command

app = typer.Typer(
    name="llmcert",
    help="Standards-based testing, verification and certification of LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Exit codes shared by every command (assessments add 1 = fail, 2 = inconclusive).
EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 3, 130

F = TypeVar("F", bound=Callable[..., Any])


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


def handle_errors(fn: F) -> F:
    """Turn llmcert errors into one line on stderr and a non-zero exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from llmcert.errors import LlmcertError

        try:
            return fn(*args, **kwargs)
        except LlmcertError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            typer.echo(
                "interrupted: finished work units are kept in the journal; run the same command to resume",
                err=True,
            )
            raise typer.Exit(EXIT_INTERRUPTED) from None

    return wrapper  # type: ignore[return-value]


app.command("eval")(handle_errors(eval_command))
app.command("scan")(handle_errors(scan_command))
app.command("bom")(handle_errors(bom_command))
app.command("sign")(handle_errors(sign_command))
app.command("verify")(handle_errors(verify_command))
app.command("plan")(handle_errors(plan_command))

judge_app = typer.Typer(
    name="judge", help="Label model responses with an offline judge.", no_args_is_help=True
)
judge_app.command("refusal")(handle_errors(judge_refusal_command))
app.add_typer(judge_app, name="judge")


def main() -> None:
    app(prog_name="llmcert")


if __name__ == "__main__":  # pragma: no cover
    main()
