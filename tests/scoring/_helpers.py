"""Small builders shared by the scoring tests."""

from __future__ import annotations

from pathlib import Path

from llmcert.items._item import Item
from llmcert.models._types import Generation

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def gen(text: str) -> Generation:
    return Generation(text=text)


def target_item(target: str | None) -> Item:
    return Item(id="t", input="question", target=target)


def choice_item(choices: tuple[str, ...], answer_index: int | None) -> Item:
    return Item(id="c", input="question", choices=choices, answer_index=answer_index)
