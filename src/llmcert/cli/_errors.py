"""Turn llmcert's errors into one clear line and an exit code, for every command."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

#: Exit codes shared by every command (checks add 1 = did not pass, 2 = inconclusive).
EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 3, 130

F = TypeVar("F", bound=Callable[..., Any])

#: Set once a command body runs; an exit before that is the parser's usage error.
_started: list[bool] = []


def command_started() -> bool:
    return bool(_started)


def handle_errors(fn: F) -> F:
    """Turn llmcert errors into one line on stderr and a non-zero exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from llmcert.errors import LlmcertError

        _started.append(True)
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
