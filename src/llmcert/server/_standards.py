"""The standards a registry certifies against: named by id and version, never by a path.

A filing's ``standard_ref`` is looked up here and stored in its normal form
``id@version``; the assessment later loads the file this catalogue points to.
Nothing a request carries ever becomes a path on the server, so an applicant
cannot make the server load a standard (or the suites and data files a
standard names) that the applicant wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

_REF = re.compile(
    r"^(?P<id>[a-z0-9][a-z0-9._-]{0,99})(@(?P<version>[A-Za-z0-9][A-Za-z0-9.+_-]{0,49}))?$"
)


@dataclass(frozen=True)
class StandardCatalog:
    """``id@version`` → the standard's file, and each id's newest version."""

    files: Mapping[str, Path]
    latest: Mapping[str, str]

    @classmethod
    def builtin(cls, extra: Iterable[Path] = ()) -> StandardCatalog:
        """The package's standards, plus files the operator names (``serve --standard``)."""
        from llmcert.standards._catalog import BUILTIN_STANDARDS, builtin_standard_path
        from llmcert.standards._spec import load_standard_file

        paths = [p for name in sorted(BUILTIN_STANDARDS) if (p := builtin_standard_path(name))]
        files: dict[str, Path] = {}
        latest: dict[str, str] = {}
        for path in [*paths, *extra]:
            spec = load_standard_file(path)
            files[f"{spec.id}@{spec.version}"] = path.resolve()
            latest[spec.id] = spec.version  # an operator's file named later wins for a bare id
        return cls(files, latest)

    def resolve(self, text: str) -> str | None:
        """The normal form of a reference to a registered standard, or None."""
        match = _REF.match(text.strip())
        if match is None:
            return None
        std_id, version = match["id"], match["version"] or self.latest.get(match["id"])
        ref = f"{std_id}@{version}"
        return ref if ref in self.files else None

    def path(self, ref: str) -> Path | None:
        return self.files.get(ref)

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(sorted(self.files))
