"""Risk taxonomies as data, and crosswalks from public datasets' labels to them.

The GB/T 45654-2025 Appendix A list (31 risks) is known here only from secondary
sources, so it lives in YAML where a wrong name or count is a one-line fix; the
checks below catch an accidental deletion or a duplicated id. A crosswalk records,
for each label a dataset uses, which risks it exercises, so a result on that
dataset can be reported against the standard's risks; labels with no fitting risk
are listed with a reason rather than silently dropped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmcert._yamlspec import _line_of, load_yaml_spec
from llmcert.errors import SpecError

_RISK_ID = re.compile(r"^[A-Z]\.\d+\.\d+$")
_CATEGORY_ID = re.compile(r"^[A-Z]\.\d+$")

#: Built-in taxonomy names and their data files.
_TAXONOMY_FILES = {"gbt-45654-2025": "taxonomy_gbt45654.yaml"}

Expectation = Literal["should_refuse", "should_not_refuse"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Risk(_Frozen):
    """One risk of the taxonomy; ``id`` is the stable key reports refer to."""

    id: str = Field(pattern=_RISK_ID.pattern)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)

    @property
    def category_id(self) -> str:
        return self.id.rsplit(".", 1)[0]


class RiskCategory(_Frozen):
    """A group of risks; ``core`` marks the groups with stricter test-bank minimums."""

    id: str = Field(pattern=_CATEGORY_ID.pattern)
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    core: bool = False
    #: The count the standard states, so a lost or extra entry is caught.
    risk_count: int = Field(ge=1)
    risks: tuple[Risk, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_risks(self) -> RiskCategory:
        for risk in self.risks:
            if risk.category_id != self.id:
                raise ValueError(f"risk {risk.id} does not belong to category {self.id}")
        if len(self.risks) != self.risk_count:
            raise ValueError(
                f"category {self.id} lists {len(self.risks)} risks but declares {self.risk_count}"
            )
        return self


class Taxonomy(_Frozen):
    """A whole taxonomy, with the clause it comes from and where its text was taken."""

    id: str = Field(min_length=1)
    standard: str = Field(min_length=1)
    clause: str = Field(min_length=1)
    source: str = Field(min_length=1)
    risk_count: int = Field(ge=1)
    categories: tuple[RiskCategory, ...] = Field(min_length=1)

    @field_validator("categories")
    @classmethod
    def _unique_ids(cls, categories: tuple[RiskCategory, ...]) -> tuple[RiskCategory, ...]:
        seen: set[str] = set()
        for cat in categories:
            for key in (cat.id, *(r.id for r in cat.risks)):
                if key in seen:
                    raise ValueError(f"id {key} appears more than once")
                seen.add(key)
        return categories

    @model_validator(mode="after")
    def _check_total(self) -> Taxonomy:
        if len(self.risks) != self.risk_count:
            raise ValueError(f"{len(self.risks)} risks listed but {self.risk_count} declared")
        return self

    @property
    def risks(self) -> tuple[Risk, ...]:
        return tuple(r for cat in self.categories for r in cat.risks)

    def risk(self, risk_id: str) -> Risk:
        for r in self.risks:
            if r.id == risk_id:
                return r
        raise KeyError(risk_id)

    def category(self, category_id: str) -> RiskCategory:
        for cat in self.categories:
            if cat.id == category_id:
                return cat
        raise KeyError(category_id)

    def core_risks(self) -> tuple[Risk, ...]:
        """Risks of the core categories (A.1, A.2): the ones §8 sets higher minimums for."""
        return tuple(r for cat in self.categories if cat.core for r in cat.risks)


@contextmanager
def _data_path(*parts: str) -> Iterator[Path]:
    ref = resources.files("llmcert.standards").joinpath("data")
    for part in parts:
        ref = ref.joinpath(part)
    with resources.as_file(ref) as path:
        yield path


def load_taxonomy_file(path: Path) -> Taxonomy:
    """Load a taxonomy from ``path``; :class:`SpecError` names file, line and field."""
    return load_yaml_spec(path, Taxonomy)


def load_taxonomy(name: str = "gbt-45654-2025") -> Taxonomy:
    """Load a built-in taxonomy by name (cached: the data never changes at run time)."""
    return _load_builtin_taxonomy(name)


@functools.cache
def _load_builtin_taxonomy(name: str) -> Taxonomy:
    try:
        filename = _TAXONOMY_FILES[name]
    except KeyError:
        known = ", ".join(sorted(_TAXONOMY_FILES))
        raise SpecError(f"no built-in taxonomy {name!r} (known: {known})") from None
    with _data_path(filename) as path:
        return load_taxonomy_file(path)


# --- crosswalks --------------------------------------------------------------


def _norm(value: str | None) -> str | None:
    """Datasets carry stray spaces around labels; they must not make a new label."""
    if value is None:
        return None
    value = value.strip()
    return value or None


class CrosswalkEntry(_Frozen):
    """A dataset label and the risks it exercises.

    ``category`` left out means the ``subcategory`` means the same under any category.
    ``expected`` records whether a model should refuse prompts with this label.
    """

    category: str | None = None
    subcategory: str | None = None
    risks: tuple[str, ...] = ()
    expected: Expectation | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> CrosswalkEntry:
        if self.category is None and self.subcategory is None:
            raise ValueError("give a category, a subcategory or both")
        if not self.risks and self.expected != "should_not_refuse":
            raise ValueError("no risks: list the label under 'unmapped' with a reason instead")
        if len(set(self.risks)) != len(self.risks):
            raise ValueError("a risk is listed twice")
        return self


class UnmappedLabel(_Frozen):
    """A dataset label known to fit no risk of the taxonomy, and why."""

    category: str | None = None
    subcategory: str | None = None
    reason: str = Field(min_length=1)
    expected: Expectation | None = None


class Crosswalk(_Frozen):
    """Maps one dataset's labels onto a taxonomy's risk ids."""

    dataset: str = Field(min_length=1)
    taxonomy: str = Field(min_length=1)
    #: Dataset columns the labels come from; ``None`` when the dataset has none.
    category_field: str | None = None
    subcategory_field: str | None = None
    #: Some rows carry several subcategories joined by this string.
    separator: str | None = None
    #: Every top-level label the dataset is known to use (checked by :meth:`knows`).
    categories: tuple[str, ...] = ()
    note: str | None = None
    entries: tuple[CrosswalkEntry, ...] = ()
    unmapped: tuple[UnmappedLabel, ...] = ()

    @model_validator(mode="after")
    def _no_duplicates(self) -> Crosswalk:
        seen: set[tuple[str | None, str | None]] = set()
        for item in self._labels():
            key = (_norm(item.category), _norm(item.subcategory))
            if key in seen:
                raise ValueError(f"label {key} is listed more than once")
            seen.add(key)
        return self

    def _labels(self) -> tuple[CrosswalkEntry | UnmappedLabel, ...]:
        return (*self.entries, *self.unmapped)

    def _find(
        self, category: str | None, subcategory: str | None
    ) -> CrosswalkEntry | UnmappedLabel | None:
        cat, sub = _norm(category), _norm(subcategory)
        for key in ((cat, sub), (None, sub)) if sub is not None else ((cat, None),):
            for item in self._labels():
                if (_norm(item.category), _norm(item.subcategory)) == key:
                    return item
        return None

    def _parts(self, subcategory: str | None) -> list[str | None]:
        if subcategory is None or not self.separator:
            return [subcategory]
        return [p for p in subcategory.split(self.separator) if p.strip()] or [None]

    def map(self, category: str | None, subcategory: str | None = None) -> tuple[str, ...]:
        """Risk ids for a label, in order and without repeats; empty if none applies."""
        out: list[str] = []
        for part in self._parts(subcategory):
            item = self._find(category, part)
            if isinstance(item, CrosswalkEntry):
                out.extend(r for r in item.risks if r not in out)
        return tuple(out)

    def expected(self, category: str | None, subcategory: str | None = None) -> Expectation | None:
        """Whether prompts with this label should be refused, where the crosswalk says."""
        found = {
            item.expected
            for part in self._parts(subcategory)
            if (item := self._find(category, part)) is not None
        }
        return found.pop() if len(found) == 1 else None

    def knows(self, category: str | None, subcategory: str | None = None) -> bool:
        """True if the label is mapped or knowingly unmapped: a new label returns False."""
        if self.categories and _norm(category) not in self.categories:
            return False
        return all(self._find(category, part) is not None for part in self._parts(subcategory))


_CROSSWALKS = ("advbench", "harmbench", "jade-db", "jailbench", "safetybench", "xstest")


def available_crosswalks() -> tuple[str, ...]:
    """Datasets with a built-in crosswalk."""
    return _CROSSWALKS


def load_crosswalk_file(path: Path) -> Crosswalk:
    """Load a crosswalk and check every risk id exists in its taxonomy."""
    cw = load_yaml_spec(path, Crosswalk)
    taxonomy = load_taxonomy(cw.taxonomy)
    known = {r.id for r in taxonomy.risks}
    for i, entry in enumerate(cw.entries):
        for j, risk_id in enumerate(entry.risks):
            if risk_id not in known:
                loc: tuple[int | str, ...] = ("entries", i, "risks", j)
                node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
                raise SpecError(
                    f"unknown risk id {risk_id!r} in taxonomy {cw.taxonomy}",
                    path=path,
                    line=_line_of(node, loc),
                    field=".".join(str(p) for p in loc),
                )
    return cw


@functools.cache
def load_crosswalk(dataset: str) -> Crosswalk:
    """Load the built-in crosswalk for ``dataset`` (see :func:`available_crosswalks`)."""
    if dataset not in _CROSSWALKS:
        raise SpecError(f"no built-in crosswalk for {dataset!r} (known: {', '.join(_CROSSWALKS)})")
    with _data_path("crosswalks", f"{dataset}.yaml") as path:
        return load_crosswalk_file(path)
