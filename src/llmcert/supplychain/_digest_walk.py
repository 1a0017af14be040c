"""Listing the files of a model artefact, refusing what has no stable content.

A symlink can point anywhere (and change under a run); a FIFO or device has no
content to hash. Both are refused by default, naming the offending path, so an
identity never silently depends on something outside the artefact.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterator
from pathlib import Path, PurePosixPath

from llmcert.errors import SupplyChainError


class ArtefactError(SupplyChainError):
    """The artefact cannot be identified: missing, a symlink, a special file, an odd name."""

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _rel_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).as_posix()
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise ArtefactError("file name is not valid UTF-8", path=path) from None
    return rel


def _excluded(rel: str, exclude: Collection[str]) -> bool:
    parts = PurePosixPath(rel).parts
    return any(
        rel == ex or parts[: len(PurePosixPath(ex).parts)] == PurePosixPath(ex).parts
        for ex in exclude
    )


def iter_files(
    root: Path, *, exclude: Collection[str] = (), allow_symlinks: bool = False
) -> Iterator[tuple[str, Path, int]]:
    """Yield ``(relative posix path, path, size)`` for every regular file under ``root``.

    ``exclude`` holds relative posix paths (files or whole folders) left out.
    With ``allow_symlinks`` a link to a regular file is read through; links to
    folders are never followed (no cycles, no escaping the tree by recursion).
    """
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            sub = here / name
            rel = _rel_name(root, sub)
            if _excluded(rel, exclude):
                continue
            if sub.is_symlink():
                raise ArtefactError("symbolic link to a folder is not allowed in a model", path=sub)
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = here / name
            rel = _rel_name(root, path)
            if _excluded(rel, exclude):
                continue
            yield rel, path, _regular_size(path, allow_symlinks=allow_symlinks)


def _regular_size(path: Path, *, allow_symlinks: bool) -> int:
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            if not allow_symlinks:
                raise ArtefactError(
                    f"symbolic link (to {os.readlink(path)}) is not allowed in a model", path=path
                )
            st = path.stat()
    except FileNotFoundError:
        raise ArtefactError("dangling symbolic link or file vanished", path=path) from None
    except OSError as exc:
        raise ArtefactError(f"cannot stat: {exc.strerror}", path=path) from exc
    if not stat.S_ISREG(st.st_mode):
        raise ArtefactError(f"is {_kind(st.st_mode)}; only regular files can be hashed", path=path)
    return st.st_size


def single_file_size(path: Path) -> int:
    """Size of a model that is one file (the path itself may be a link the user chose)."""
    return _regular_size(path, allow_symlinks=True)
