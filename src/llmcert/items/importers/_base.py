"""What every dataset importer is made of, and the parsing helpers they share.

An importer is data plus two functions: which upstream files a given set of
options needs (so they can be fetched), and how to turn a local copy of those
files into items. Keeping download and parsing apart means the hub path and the
``--data PATH`` path run the very same parser.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcert.errors import SpecError
from llmcert.items._hub import RemoteFile
from llmcert.items._item import Item

Options = Mapping[str, Any]


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Option:
    """One importer option: its default (or :data:`REQUIRED`) and allowed values."""

    default: Any = REQUIRED
    allowed: tuple[Any, ...] | None = None
    kind: type = str
    help: str = ""


@dataclass(frozen=True)
class Importer:
    name: str
    description: str
    language: str
    #: sub-folder of the cache, named like the upstream folder
    folder: str
    #: pinned upstream revision: part of the cache path
    revision: str
    remote: Callable[[Options], tuple[RemoteFile, ...]]
    parse: Callable[[Path, Options], list[Item]]
    options: Mapping[str, Option] = field(default_factory=dict)

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Fill defaults and check every option against what this importer accepts."""
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise SpecError(
                f"importer {self.name!r} has no option {unknown[0]!r} (options: {known})",
                field=f"items.options.{unknown[0]}",
            )
        out: dict[str, Any] = {}
        for key, opt in self.options.items():
            value = given.get(key, opt.default)
            where = f"items.options.{key}"
            if value is REQUIRED:
                hint = f" ({' | '.join(map(str, opt.allowed))})" if opt.allowed else ""
                raise SpecError(f"importer {self.name!r} needs option {key!r}{hint}", field=where)
            if opt.kind is bool and not isinstance(value, bool):
                raise SpecError(f"must be true or false, not {value!r}", field=where)
            if opt.kind is str and not isinstance(value, str):
                raise SpecError(f"must be a string, not {value!r}", field=where)
            if opt.allowed is not None and value not in opt.allowed:
                shown = ", ".join(map(str, opt.allowed))
                raise SpecError(f"{value!r} is not one of: {shown}", field=where)
            out[key] = value
        return out


def raw_url(repo: str, revision: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{revision}/{path}"


def locate(root: Path, rel: str) -> Path:
    """The file ``rel`` of an upstream layout, given the folder (or the file itself).

    ``root`` may be the dataset folder, the folder that directly holds the
    file, or the file.
    """
    if root.is_file():
        return root
    if not root.exists():
        raise SpecError("dataset path not found", path=root, field="items.path")
    for candidate in (root / rel, root / Path(rel).name):
        if candidate.is_file():
            return candidate
    raise SpecError(
        f"expected the upstream file {rel!r} in this folder", path=root, field="items.path"
    )


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError("not valid UTF-8", path=path, line=line) from exc


def load_json(path: Path) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from exc


def expect(
    cond: bool, message: str, *, path: Path, line: int | None = None, field: str | None = None
) -> None:
    if not cond:
        raise SpecError(message, path=path, line=line, field=field)


def number_text(raw: str) -> str | None:
    """A plain decimal number with thousands separators removed, or None."""
    text = raw.strip().replace(",", "")
    body = text[1:] if text[:1] == "-" else text
    head, _, tail = body.partition(".")
    if head.isdigit() and (not tail or tail.isdigit()) and head.isascii() and tail.isascii():
        return text
    return None


def item_id(prefix: str, n: int) -> str:
    return f"{prefix}-{n:04d}"
