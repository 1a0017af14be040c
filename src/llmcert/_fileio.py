"""Atomic file output: readers see the old file or the new one, never half of either.

Every file llmcert writes for someone else to read (results, reports, BOMs,
attestations, scan reports, labelled tables, downloads) goes through here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any


def write_atomic(path: Path | str, data: bytes) -> None:
    """Replace ``path`` with ``data``.

    The temporary file sits in the same directory (``os.replace`` is atomic only
    within one file system), is created exclusively (never follows a planted link)
    with the usual umask-derived mode, and is flushed to disk before the rename.
    On any failure it is removed and the old file is left as it was.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
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


def write_text_atomic(path: Path | str, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path | str, data: Any) -> None:
    """Indented UTF-8 JSON with a final newline."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


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
