"""A semantic diff of two standards: what a reader of a new version needs to know.

Changes are reported per clause and per requirement by id (not by position in
the file), with each changed field spelled out, so a tightened threshold or a
switch of decision rule cannot hide in a reordered file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmcert.standards._spec import Clause, Requirement, StandardSpec

_HEADER_FIELDS = (
    "id",
    "title",
    "version",
    "status",
    "published",
    "effective",
    "renew_by",
    "supersedes",
)


@dataclass(frozen=True)
class FieldChange:
    """One field whose value differs; values are rendered as text for display."""

    field: str
    old: str
    new: str


@dataclass(frozen=True)
class EntryChange:
    """A clause or requirement present in both standards, with its changed fields."""

    id: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class StandardDiff:
    old_ref: str
    new_ref: str
    header: tuple[FieldChange, ...]
    clauses_added: tuple[str, ...]
    clauses_removed: tuple[str, ...]
    clauses_changed: tuple[EntryChange, ...]
    requirements_added: tuple[str, ...]
    requirements_removed: tuple[str, ...]
    requirements_changed: tuple[EntryChange, ...]

    @property
    def empty(self) -> bool:
        return not (
            self.header
            or self.clauses_added
            or self.clauses_removed
            or self.clauses_changed
            or self.requirements_added
            or self.requirements_removed
            or self.requirements_changed
        )

    def requirement(self, req_id: str) -> EntryChange | None:
        return next((c for c in self.requirements_changed if c.id == req_id), None)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in sorted(value.items())) or "—"
    return str(value)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings become dotted keys, so a change reads ``measure.suite``."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key == "measure":
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    keys = list(old) + [k for k in new if k not in old]
    return tuple(
        FieldChange(k, _text(old.get(k)), _text(new.get(k)))
        for k in keys
        if old.get(k) != new.get(k)
    )


def _entries(
    old: Sequence[Clause | Requirement], new: Sequence[Clause | Requirement]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[EntryChange, ...]]:
    before = {e.id: _flatten(e.model_dump(mode="json")) for e in old}
    after = {e.id: _flatten(e.model_dump(mode="json")) for e in new}
    added = tuple(k for k in after if k not in before)
    removed = tuple(k for k in before if k not in after)
    changed = tuple(
        EntryChange(k, fc)
        for k in before
        if k in after and (fc := _field_changes(before[k], after[k]))
    )
    return added, removed, changed


def diff_standards(old: StandardSpec, new: StandardSpec) -> StandardDiff:
    """What changed from ``old`` to ``new``."""
    old_dump = old.model_dump(mode="json", include=set(_HEADER_FIELDS))
    new_dump = new.model_dump(mode="json", include=set(_HEADER_FIELDS))
    header = _field_changes(
        {k: old_dump[k] for k in _HEADER_FIELDS}, {k: new_dump[k] for k in _HEADER_FIELDS}
    )
    c_added, c_removed, c_changed = _entries(old.clauses, new.clauses)
    r_added, r_removed, r_changed = _entries(old.requirements, new.requirements)
    return StandardDiff(
        old_ref=old.ref,
        new_ref=new.ref,
        header=header,
        clauses_added=c_added,
        clauses_removed=c_removed,
        clauses_changed=c_changed,
        requirements_added=r_added,
        requirements_removed=r_removed,
        requirements_changed=r_changed,
    )
