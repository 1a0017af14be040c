"""LLM-as-judge: a model labels (prompt, response) pairs under a pinned, versioned rubric.

A rubric is data (``data/rubrics/<id>-v<major>.yaml``): the instructions, the
labels a judge may answer with (with aliases, e.g. in Chinese), the labels that
count as the measured outcome, and a pattern that finds the label in the judge's
answer. Its content digest is part of the judge's identity together with the
judge model's identity and the decoding settings, so two results judged under
different rubrics, models or settings never look alike.

Judging decodes greedily (temperature 0, fixed seed). An answer without exactly
one recognisable label is reported as unparseable with the reason; it is never
guessed, because a guessed label would bias the counted rate without trace.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmcert._hashing import digest_json
from llmcert._yamlspec import load_yaml_spec, parse_yaml_spec
from llmcert.errors import ModelError, SpecError
from llmcert.models._types import (
    ChatMessage,
    GenerateRequest,
    GenerationSettings,
    ModelBackend,
)

_PLACEHOLDER = re.compile(r"\{(prompt|response)\}")
#: Decoration a judge may put around a label: quotes, brackets, emphasis, end punctuation.
_DECORATION = " \t*`'\"“”‘’[]()<>{}.,;:!?。，；：！？、「」『』【】（）"
DEFAULT_SETTINGS = GenerationSettings(max_tokens=256, temperature=0.0)


def normalise_label(text: str) -> str:
    """Casefolded NFKC text without decoration, words joined by underscores."""
    text = unicodedata.normalize("NFKC", text).casefold().strip(_DECORATION)
    return re.sub(r"[\s\-]+", "_", text)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RubricLabel(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()


class RubricParse(_Strict):
    """How to find the label: every match of ``pattern``'s one group is a candidate.

    ``select="unique"`` requires all candidates to name the same label;
    ``"last"`` takes the last one.
    """

    pattern: str
    select: Literal["unique", "last"] = "unique"

    @field_validator("pattern")
    @classmethod
    def _one_group(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        if compiled.groups != 1:
            raise ValueError("the pattern must have exactly one group, the label")
        return value


class Rubric(_Strict):
    """A pinned rubric (see the module docstring); validated when loaded."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    description: str = Field(min_length=1)
    languages: tuple[str, ...] = Field(min_length=1)
    system: str = ""
    template: str
    labels: tuple[RubricLabel, ...] = Field(min_length=2)
    positive: tuple[str, ...] = Field(min_length=1)
    parse: RubricParse

    @field_validator("template")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        found = set(_PLACEHOLDER.findall(value))
        if found != {"prompt", "response"}:
            raise ValueError("the template must contain both {prompt} and {response}")
        return value

    @model_validator(mode="after")
    def _labels_consistent(self) -> Rubric:
        names = [label.name for label in self.labels]
        if len(set(names)) != len(names):
            raise ValueError("label names must be unique")
        seen: dict[str, str] = {}
        for label in self.labels:
            for word in (label.name, *label.aliases):
                key = normalise_label(word)
                if seen.setdefault(key, label.name) != label.name:
                    raise ValueError(f"{word!r} names both {seen[key]!r} and {label.name!r}")
        unknown = sorted(set(self.positive) - set(names))
        if unknown:
            raise ValueError(f"positive names labels the rubric does not define: {unknown}")
        return self

    @property
    def ident(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def digest(self) -> str:
        """Digest of the validated content: comments and layout of the file do not count."""
        return digest_json(self.model_dump(mode="json"))

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def render(self, prompt: str, response: str) -> tuple[ChatMessage, ...]:
        """The judge's messages. Substitution is one pass, so text inside the prompt
        or response that looks like a placeholder is left as it is."""
        values = {"prompt": prompt, "response": response}
        user = _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.template)
        system = (ChatMessage("system", self.system),) if self.system else ()
        return (*system, ChatMessage("user", user))

    def parse_answer(self, answer: str) -> tuple[str | None, str | None]:
        """``(label, None)``, or ``(None, why)`` when the answer does not give one label."""
        lookup = {
            normalise_label(word): label.name
            for label in self.labels
            for word in (label.name, *label.aliases)
        }
        candidates = [m.group(1) for m in re.finditer(self.parse.pattern, answer)]
        if not candidates:
            return None, "no label line found"
        if self.parse.select == "last":
            candidates = candidates[-1:]
        labels = []
        for text in candidates:
            label = lookup.get(normalise_label(text))
            if label is None:
                return None, f"{text.strip()!r} is not one of {', '.join(self.label_names)}"
            labels.append(label)
        if len(set(labels)) > 1:
            return None, f"conflicting labels: {', '.join(dict.fromkeys(labels))}"
        return labels[0], None


def _rubric_folder() -> Traversable:
    return resources.files("llmcert.judges").joinpath("data").joinpath("rubrics")


def builtin_rubrics() -> tuple[str, ...]:
    """Names of the shipped rubrics, e.g. ``refusal-v1``."""
    folder = _rubric_folder()
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")))


def load_rubric(name_or_path: str | Path) -> Rubric:
    """A shipped rubric by name (``refusal-v1``) or a rubric file by path."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return load_yaml_spec(Path(name_or_path), Rubric)
    resource = _rubric_folder().joinpath(f"{text}.yaml")
    if not resource.is_file():
        raise SpecError(f"unknown rubric {text!r}; shipped rubrics: {', '.join(builtin_rubrics())}")
    rubric = parse_yaml_spec(resource.read_text(encoding="utf-8"), Rubric, path=Path(str(resource)))
    major = rubric.version.split(".")[0]
    if f"{rubric.id}-v{major}" != text:
        raise SpecError(
            f"rubric file {text!r} holds {rubric.ident}", path=Path(str(resource)), field="id"
        )
    return rubric


@dataclass(frozen=True, slots=True)
class LlmVerdict:
    """One judged pair.

    ``label`` is None unless ``parsed``; ``problem`` then says why (an answer with
    no label, an unknown or conflicting label, or with ``failed_call`` a model
    error). ``positive`` says whether the label is one the rubric counts.
    """

    label: str | None
    raw: str
    parsed: bool
    positive: bool | None = None
    problem: str | None = None
    failed_call: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "raw": self.raw,
            "parsed": self.parsed,
            "positive": self.positive,
            "problem": self.problem,
            "failed_call": self.failed_call,
        }


def judge_identity(
    rubric: Rubric, settings: GenerationSettings, seed: int, model: dict[str, object] | None
) -> dict[str, Any]:
    """An LLM judge's identity. ``digest`` covers the rubric's and the settings' digests
    and the model's identity digest, so it changes whenever any of them does."""
    ident = {"id": rubric.id, "version": rubric.version, "digest": rubric.digest}
    model_digest = None if model is None else model["digest"]
    return {
        "kind": "llm",
        "name": f"llm-judge:{rubric.id}",
        "version": rubric.version,
        "rubric": ident,
        "settings": settings.model_dump(mode="json"),
        "seed": seed,
        "model": model,
        "digest": digest_json([ident["digest"], settings.digest(), seed, model_digest]),
    }


def calibration_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """The flat form of :func:`judge_identity` a calibration file holds."""
    model = identity.get("model") or {}
    return {
        "name": identity["name"],
        "version": identity["version"],
        "digest": identity["digest"],
        "model_digest": str(model.get("digest", "")),
        "rubric_digest": identity["rubric"]["digest"],
        "decoding": {"settings": identity["settings"], "seed": identity["seed"]},
    }


class LlmJudge:
    """Labels pairs with a model under a rubric, greedily and with a fixed seed."""

    def __init__(
        self,
        backend: ModelBackend,
        rubric: Rubric,
        settings: GenerationSettings = DEFAULT_SETTINGS,
        *,
        seed: int = 0,
    ) -> None:
        if settings.temperature != 0.0:
            raise ValueError(
                f"a judge decodes greedily: temperature must be 0, got {settings.temperature}"
            )
        self.backend, self.rubric, self.settings, self.seed = backend, rubric, settings, seed
        self._model: dict[str, object] | None = None
        self._lock = asyncio.Lock()

    async def identify(self) -> dict[str, Any]:
        """Establish the judge model's identity (once) and return the judge's identity."""
        async with self._lock:
            if self._model is None:
                self._model = (await self.backend.identify()).to_dict()
        return self.identity()

    def identity(self) -> dict[str, Any]:
        """Rubric, settings and judge model; ``model`` is None until :meth:`identify` ran."""
        return judge_identity(self.rubric, self.settings, self.seed, self._model)

    def calibration_identity(self) -> dict[str, Any]:
        """The identity as a calibration file records (and checks) it."""
        return calibration_identity(self.identity())

    def _request(self, prompt: str, response: str) -> GenerateRequest:
        messages = self.rubric.render(prompt, response)
        key = digest_json([self.rubric.digest, self.settings.digest(), self.seed, prompt, response])
        if self.backend.supports_chat:
            return GenerateRequest(
                self.settings, messages=messages, seed=self.seed, idempotency_key=key
            )
        text = "\n\n".join(m.content for m in messages) + "\n"
        return GenerateRequest(self.settings, prompt=text, seed=self.seed, idempotency_key=key)

    async def judge(self, prompt: str, response: str) -> LlmVerdict:
        """Label one pair. A failed model call raises (``ModelError``); retrying is the caller's."""
        if self._model is None:
            await self.identify()
        generation = await self.backend.generate(self._request(prompt, response))
        label, problem = self.rubric.parse_answer(generation.text)
        if label is None:
            return LlmVerdict(None, generation.text, False, problem=problem)
        return LlmVerdict(label, generation.text, True, positive=label in self.rubric.positive)

    async def judge_many(
        self, pairs: Iterable[tuple[str, str]], concurrency: int = 4
    ) -> list[LlmVerdict]:
        """Label pairs in order, at most ``concurrency`` at once (and no more than the
        backend allows). A failed call becomes a verdict with ``failed_call`` set, so
        one error does not lose the batch and still shows in the denominators."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        limit = min(concurrency, self.backend.max_concurrency or concurrency)
        gate = asyncio.Semaphore(limit)
        await self.identify()

        async def one(prompt: str, response: str) -> LlmVerdict:
            async with gate:
                try:
                    return await self.judge(prompt, response)
                except ModelError as exc:
                    problem = f"model call failed: {type(exc).__name__}: {exc}"
                    return LlmVerdict(None, "", False, problem=problem, failed_call=True)

        return list(await asyncio.gather(*(one(p, r) for p, r in pairs)))


__all__ = [
    "DEFAULT_SETTINGS",
    "LlmJudge",
    "LlmVerdict",
    "Rubric",
    "RubricLabel",
    "RubricParse",
    "builtin_rubrics",
    "calibration_identity",
    "judge_identity",
    "load_rubric",
    "normalise_label",
]
