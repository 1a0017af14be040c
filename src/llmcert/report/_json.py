"""The machine-readable result file, and the atomic write both reports share."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from pydantic import ValidationError

from llmcert.errors import SpecError
from llmcert.report._schema import SCHEMA, EvalResult


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old file or the new one.

    The temporary file sits in the same directory (``os.replace`` is only atomic
    within one file system), is created exclusively (never follows a planted
    link) with the usual umask-derived mode, and is flushed to disk before the
    rename. On any failure it is removed and the old file is left as it was.
    """
    path = Path(path)
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it (POSIX)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def dump_result(result: EvalResult) -> str:
    """The JSON text of a result: indented, UTF-8 as is, key ``schema``."""
    return result.model_dump_json(by_alias=True, indent=2) + "\n"


def write_json(result: EvalResult, path: Path) -> None:
    """Write ``result`` atomically: an interrupted write never leaves half a file."""
    atomic_write_bytes(Path(path), dump_result(result).encode("utf-8"))


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
