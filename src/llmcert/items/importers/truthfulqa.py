"""TruthfulQA MC1: one true answer among several false ones."""

from __future__ import annotations

import hashlib
from pathlib import Path

from llmcert.items._hub import RemoteFile
from llmcert.items._item import Item
from llmcert.items.importers._base import (
    Importer,
    Option,
    Options,
    expect,
    item_id,
    load_json,
    locate,
    raw_url,
)

_REPO = "sylinrl/TruthfulQA"
_REVISION = "d71c110897f5d31c5d7f309e7bc316c152f6f031"
_FILES = {
    "current": RemoteFile(
        "mc_task.json",
        raw_url(_REPO, _REVISION, "data/mc_task.json"),
        "c90d853454fd48c676accb33e16923ac438dbb6fb37ecc7c6a70e33c9e556e87",
    ),
    "v1": RemoteFile(
        "v1/mc_task.json",
        raw_url(_REPO, _REVISION, "data/v1/mc_task.json"),
        "b3799639bc76c939836d587de7d30b48d91012cb34be04806d33106ce06c162a",
    ),
}


def _remote(options: Options) -> tuple[RemoteFile, ...]:
    return (_FILES[options["version"]],)


def stable_order(key: str, choices: tuple[str, ...]) -> tuple[int, ...]:
    """A permutation of ``choices`` fixed by content alone, not by any RNG.

    Upstream lists the true answer first; a lettered prompt would then reward a
    model that always says "A".
    """

    def rank(i: int) -> str:
        return hashlib.sha256(f"{key}\x00{choices[i]}".encode()).hexdigest()

    return tuple(sorted(range(len(choices)), key=rank))


def _parse(root: Path, options: Options) -> list[Item]:
    path = locate(root, _FILES[options["version"]].rel)
    rows = load_json(path)
    expect(isinstance(rows, list), "expected a JSON array", path=path)
    items: list[Item] = []
    for n, row in enumerate(rows, 1):
        where = f"[{n - 1}]"
        expect(isinstance(row, dict), "not an object", path=path, field=where)
        question, targets = row.get("question"), row.get("mc1_targets")
        expect(
            isinstance(question, str) and bool(question.strip()),
            "missing question",
            path=path,
            field=f"{where}.question",
        )
        expect(
            isinstance(targets, dict) and len(targets) >= 2,
            "needs at least two mc1_targets",
            path=path,
            field=f"{where}.mc1_targets",
        )
        choices = tuple(targets)  # JSON object order is file order
        correct = [i for i, label in enumerate(targets.values()) if label == 1]
        expect(
            len(correct) == 1,
            "mc1_targets must mark exactly one answer with 1",
            path=path,
            field=f"{where}.mc1_targets",
        )
        answer = correct[0]
        iid = item_id("truthfulqa-mc1", n)
        metadata: dict[str, object] = {"dataset": "truthfulqa", "language": "en", "source_row": n}
        if options["shuffle_choices"]:
            order = stable_order(iid, choices)
            choices = tuple(choices[i] for i in order)
            answer = order.index(answer)
            metadata["choice_order"] = list(order)
        items.append(
            Item(id=iid, input=question, choices=choices, answer_index=answer, metadata=metadata)
        )
    return items


IMPORTER = Importer(
    name="truthfulqa_mc1",
    description="TruthfulQA MC1 (790 questions; 817 in v1); one true choice",
    language="en",
    folder="truthfulqa",
    revision=_REVISION,
    remote=_remote,
    parse=_parse,
    options={
        "version": Option(
            default="current",
            allowed=("current", "v1"),
            help="'current' (Jan 2025, 790) or 'v1' (original, 817)",
        ),
        "shuffle_choices": Option(
            default=False,
            kind=bool,
            help="reorder choices by a content hash (for lettered prompts)",
        ),
    },
)
