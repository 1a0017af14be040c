"""Item: one test case, identified by the hash of its content."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llmcert._hashing import digest_json


@dataclass(frozen=True, slots=True)
class Item:
    """One test case.

    ``target`` is the reference answer for generation scorers; ``choices`` and
    ``answer_index`` describe a multiple-choice item. ``metadata`` holds everything
    else (language, risk category, source row …) and is part of the hash.
    """

    id: str
    input: str
    target: str | None = None
    choices: tuple[str, ...] = ()
    answer_index: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "input": self.input,
            "target": self.target,
            "choices": list(self.choices),
            "answer_index": self.answer_index,
            "metadata": dict(self.metadata),
        }

    @property
    def hash(self) -> str:
        """Content hash: same content, same hash, wherever the item came from."""
        return digest_json(self.to_dict())
