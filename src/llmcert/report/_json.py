"""The machine-readable result file."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from llmcert._fileio import write_atomic
from llmcert.errors import SpecError
from llmcert.report._schema import SCHEMA, EvalResult


def dump_result(result: EvalResult) -> str:
    """The JSON text of a result: indented, UTF-8 as is, key ``schema``."""
    return result.model_dump_json(by_alias=True, indent=2) + "\n"


def write_json(result: EvalResult, path: Path) -> None:
    """Write ``result`` atomically: an interrupted write never leaves half a file."""
    write_atomic(Path(path), dump_result(result).encode("utf-8"))


def load_result(path: Path) -> EvalResult:
    """Read a result file written by :func:`write_json`.

    Raises :class:`~llmcert.errors.SpecError` naming the file when it is not a
    result of this schema version, rather than guessing at an old layout.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not a valid llmcert result: not UTF-8 ({exc.reason})", path=path) from exc
    try:
        result = EvalResult.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        raise SpecError(
            f"not a valid llmcert result: {first['msg']}", path=path, field=where
        ) from exc
    if result.schema_ != SCHEMA:
        raise SpecError(
            f"result schema {result.schema_!r} is not the supported {SCHEMA!r}",
            path=path,
            field="schema",
        )
    return result
