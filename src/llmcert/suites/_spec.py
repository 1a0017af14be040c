"""SuiteSpec: the YAML format of a test suite, validated with pydantic."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmcert.models._types import GenerationSettings

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemsSpec(_Strict):
    """Where the items come from: a file beside the suite, or a dataset importer."""

    source: str | None = Field(
        None, description="JSONL, CSV or JSON file, relative to the suite file"
    )
    importer: str | None = Field(None, description="name of a dataset importer, e.g. gsm8k")
    path: str | None = Field(None, description="local copy of the dataset for the importer")
    options: dict[str, Any] = Field(default_factory=dict, description="importer options")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="column mapping for source files: item field -> column name",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ItemsSpec:
        if (self.source is None) == (self.importer is None):
            raise ValueError("give exactly one of 'source' (a file) or 'importer' (a dataset)")
        bad = set(self.fields) - {"id", "input", "target", "choices", "answer_index"}
        if bad:
            raise ValueError(
                f"fields can map only id, input, target, choices, answer_index; not {sorted(bad)}"
            )
        return self


class FewShotExample(_Strict):
    input: str
    target: str


class PromptSpec(_Strict):
    """How an item becomes a request.

    ``template`` is a Jinja template rendered in a sandbox with ``input``,
    ``choices``, ``letters`` and ``metadata`` of the item. For ``chat``, few-shot
    examples become alternating user/assistant turns; for ``completion`` they
    are concatenated before the item, each followed by its target.
    """

    kind: Literal["chat", "completion"] = "chat"
    system: str | None = None
    template: str = "{{ input }}"
    few_shot: tuple[FewShotExample, ...] = ()
    example_separator: str = "\n\n"
    target_prefix: str = Field(
        " ", description="put before each choice when ranking by log-likelihood"
    )


class ScorerSpec(_Strict):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class SuiteSpec(_Strict):
    """A versioned test suite. Its digest covers items, prompt, settings and scorer."""

    name: str
    version: str
    description: str = ""
    license: str | None = None
    languages: tuple[str, ...] = ()
    items: ItemsSpec
    prompt: PromptSpec = PromptSpec()
    generation: GenerationSettings = GenerationSettings()
    scorer: ScorerSpec
    metrics: tuple[Literal["accuracy", "mean"], ...] = ("accuracy",)
    group_by: tuple[str, ...] = Field((), description="metadata fields to break results down by")
    repeats: int = Field(1, ge=1, le=1000)

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError("must be lower-case letters, digits, '.', '_' or '-'")
        return v

    @field_validator("version")
    @classmethod
    def _semver(cls, v: str) -> str:
        if not _SEMVER.match(v):
            raise ValueError("must be a semantic version such as 1.0.0")
        return v
