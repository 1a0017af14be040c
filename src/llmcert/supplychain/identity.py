"""Content identity of a model artefact: per-file sha256 digests and one root digest.

The root digest names *what the model is*, whatever it is called on disk:

* a single file's root digest is the sha256 of its bytes, so anyone can check it
  with ``sha256sum`` and it equals the artefact digest llama.cpp runs record;
* a folder's root digest is the sha256 of a canonical JSON manifest listing every
  file as ``[relative posix path, size, "sha256:<hex>"]`` sorted by path, so any
  changed byte, rename, added or removed file changes it.

Files are streamed through a reusable buffer (``hashlib`` releases the GIL on
large updates) and the files of a folder are hashed in parallel threads.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llmcert._hashing import canonical_json, digest_file
from llmcert.errors import IdentityChanged
from llmcert.supplychain._digest_walk import ArtefactError, iter_files, single_file_size

__all__ = [
    "DEFAULT_EXCLUDES",
    "MANIFEST_SCHEMA",
    "ArtefactError",
    "ArtefactIdentity",
    "FileDigest",
    "ManifestDiff",
    "TreeDigest",
    "diff_manifests",
    "digest_file",
    "digest_tree",
    "identify",
]

#: Version-control metadata is not part of a model (and a Git LFS store would double the work).
DEFAULT_EXCLUDES: tuple[str, ...] = (".git",)
MANIFEST_SCHEMA = "llmcert.artefact-identity/1"
_TREE_FORMAT = "llmcert.tree/1"


@dataclass(frozen=True, order=True)
class FileDigest:
    """One file of an artefact: path relative to the artefact root (posix), size, digest."""

    path: str
    size: int
    digest: str

    def to_json(self) -> list[Any]:
        return [self.path, self.size, self.digest]


@dataclass(frozen=True)
class TreeDigest:
    """The digests of every file of an artefact and the root digest that sums them up."""

    root: str
    kind: Literal["file", "directory"]
    files: tuple[FileDigest, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def by_path(self) -> dict[str, FileDigest]:
        return {f.path: f for f in self.files}


def _root_of(files: tuple[FileDigest, ...]) -> str:
    manifest = {"format": _TREE_FORMAT, "files": [f.to_json() for f in files]}
    return "sha256:" + hashlib.sha256(canonical_json(manifest)).hexdigest()


def digest_tree(
    path: Path | str,
    *,
    workers: int | None = None,
    exclude: Collection[str] = DEFAULT_EXCLUDES,
    allow_symlinks: bool = False,
) -> TreeDigest:
    """Digest a model file or folder; ``workers`` threads hash files in parallel.

    A single file is a tree of one, listed under its own name, whose root is its
    own digest. Symlinks inside a folder and special files raise
    :class:`ArtefactError` naming the path, unless ``allow_symlinks`` lets links
    to regular files be read through (e.g. a Hugging Face cache snapshot).
    """
    root = Path(path)
    if not root.exists():
        raise ArtefactError("no such file or directory", path=root)
    if root.is_file():
        size = single_file_size(root)
        digest = digest_file(root)
        return TreeDigest(root=digest, kind="file", files=(FileDigest(root.name, size, digest),))
    if not root.is_dir():
        single_file_size(root)  # raises, naming the kind of special file
    listed = list(iter_files(root, exclude=exclude, allow_symlinks=allow_symlinks))
    n_workers = max(1, min(workers or (os.cpu_count() or 1), len(listed) or 1))
    if n_workers == 1:
        digests = [digest_file(p) for _, p, _ in listed]
    else:
        with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="digest") as pool:
            digests = list(pool.map(digest_file, [p for _, p, _ in listed]))
    files = tuple(
        sorted(FileDigest(rel, size, d) for (rel, _, size), d in zip(listed, digests, strict=True))
    )
    return TreeDigest(root=_root_of(files), kind="directory", files=files)


@dataclass(frozen=True)
class ManifestDiff:
    """How an artefact on disk differs from a recorded identity (relative paths)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def reasons(self) -> list[str]:
        return (
            [f"file added: {p}" for p in self.added]
            + [f"file removed: {p}" for p in self.removed]
            + [f"file changed: {p}" for p in self.changed]
        )


def diff_manifests(expected: TreeDigest, actual: TreeDigest) -> ManifestDiff:
    """Name each added, removed and changed file between two digests of one artefact.

    For a single file the name is not part of the identity, so a renamed but
    identical file is no difference and a changed one is reported under its name.
    """
    if expected.kind == "file" and actual.kind == "file":
        same = expected.root == actual.root
        return ManifestDiff() if same else ManifestDiff(changed=(actual.files[0].path,))
    want, have = expected.by_path(), actual.by_path()
    return ManifestDiff(
        added=tuple(sorted(have.keys() - want.keys())),
        removed=tuple(sorted(want.keys() - have.keys())),
        changed=tuple(sorted(p for p in want.keys() & have.keys() if want[p] != have[p])),
    )


@dataclass(frozen=True)
class ArtefactIdentity:
    """What an artefact is, as journals, assessments, BOMs and signatures record it."""

    name: str
    tree: TreeDigest
    excluded: tuple[str, ...] = field(default=DEFAULT_EXCLUDES)

    @property
    def root_digest(self) -> str:
        return self.tree.root

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": MANIFEST_SCHEMA,
            "name": self.name,
            "kind": self.tree.kind,
            "root_digest": self.tree.root,
            "size": self.tree.size,
            "excluded": list(self.excluded),
            "files": [
                {"path": f.path, "size": f.size, "digest": f.digest} for f in self.tree.files
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtefactIdentity:
        """Read a manifest back, refusing one whose root does not match its own file list."""
        if data.get("schema") != MANIFEST_SCHEMA:
            raise ArtefactError(
                f"not an artefact identity manifest (schema {data.get('schema')!r})"
            )
        try:
            files = tuple(
                sorted(
                    FileDigest(str(f["path"]), int(f["size"]), str(f["digest"]))
                    for f in data["files"]
                )
            )
            kind = data["kind"]
            root = str(data["root_digest"])
            name = str(data["name"])
            excluded = tuple(str(e) for e in data.get("excluded", ()))
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtefactError(f"malformed artefact identity manifest: {exc}") from exc
        if kind not in ("file", "directory"):
            raise ArtefactError(f"malformed artefact identity manifest: kind {kind!r}")
        expect = files[0].digest if kind == "file" and len(files) == 1 else _root_of(files)
        if root != expect:
            raise ArtefactError("artefact identity manifest is inconsistent: root digest != files")
        return cls(name=name, tree=TreeDigest(root=root, kind=kind, files=files), excluded=excluded)

    def check(self, path: Path | str, *, workers: int | None = None) -> ManifestDiff:
        """Digest ``path`` again and say what differs (empty when it is still this artefact)."""
        actual = digest_tree(path, workers=workers, exclude=self.excluded)
        return diff_manifests(self.tree, actual)

    def ensure_unchanged(self, path: Path | str, *, workers: int | None = None) -> None:
        """Raise :class:`~llmcert.errors.IdentityChanged` naming the files that moved."""
        try:
            diff = self.check(path, workers=workers)
        except ArtefactError as exc:
            raise IdentityChanged(f"artefact {path} can no longer be identified: {exc}") from exc
        if diff:
            raise IdentityChanged(f"artefact {path} changed: " + "; ".join(diff.reasons()))


def identify(
    path: Path | str,
    *,
    workers: int | None = None,
    exclude: Collection[str] = DEFAULT_EXCLUDES,
    allow_symlinks: bool = False,
) -> ArtefactIdentity:
    """Digest an artefact and name it after its file or folder."""
    p = Path(path)
    tree = digest_tree(p, workers=workers, exclude=exclude, allow_symlinks=allow_symlinks)
    name = p.resolve().name if p.name in ("", ".", "..") else p.name
    return ArtefactIdentity(name=name, tree=tree, excluded=tuple(exclude))
