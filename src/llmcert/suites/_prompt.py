"""Turn an item into a model request, through a sandboxed Jinja template.

Templates come from suite files and items from datasets: both are data, so they
are rendered in Jinja's sandbox with undefined names as errors.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from llmcert.errors import SpecError
from llmcert.items._item import Item
from llmcert.models._types import ChatMessage
from llmcert.suites._spec import FewShotExample, PromptSpec

LETTERS = string.ascii_uppercase
_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)


@dataclass(frozen=True)
class PromptRenderer:
    spec: PromptSpec

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "_template", _ENV.from_string(self.spec.template))
        except TemplateError as exc:
            raise SpecError(f"template does not parse: {exc}", field="prompt.template") from exc

    def _render(self, input_text: str, item: Item | None) -> str:
        choices = list(item.choices) if item is not None else []
        try:
            return str(
                self._template.render(  # type: ignore[attr-defined]
                    input=input_text,
                    choices=choices,
                    letters=LETTERS[: len(choices)],
                    metadata=dict(item.metadata) if item is not None else {},
                )
            )
        except TemplateError as exc:
            where = f" for item {item.id!r}" if item is not None else ""
            raise SpecError(f"template failed{where}: {exc}", field="prompt.template") from exc

    def _example(self, ex: FewShotExample) -> str:
        return self._render(ex.input, None)

    def messages(self, item: Item) -> tuple[ChatMessage, ...]:
        out: list[ChatMessage] = []
        if self.spec.system:
            out.append(ChatMessage("system", self.spec.system))
        for ex in self.spec.few_shot:
            out.append(ChatMessage("user", self._example(ex)))
            out.append(ChatMessage("assistant", ex.target))
        out.append(ChatMessage("user", self._render(item.input, item)))
        return tuple(out)

    def completion(self, item: Item) -> str:
        sep = self.spec.example_separator
        parts = [self.spec.system + sep] if self.spec.system else []
        parts.extend(self._example(ex) + ex.target + sep for ex in self.spec.few_shot)
        parts.append(self._render(item.input, item))
        return "".join(parts)

    def continuations(self, item: Item) -> tuple[str, ...]:
        return tuple(self.spec.target_prefix + c for c in item.choices)
