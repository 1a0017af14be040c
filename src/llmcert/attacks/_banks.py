"""Behaviour banks: the harmful requests attacks are applied to, with their sources' licences.

The public banks are read from a local copy (``--data PATH``) by the importers
of :mod:`llmcert.standards.banks`, which tag each behaviour with GB/T 45654 risk
ids through the built-in crosswalks. llmcert ships their importers, not their
rows: the licences (all MIT) would allow copying, but the rows are harmful
requests and the upstream projects are where they are maintained. A user bank
(JSONL, CSV or JSON item file; ``risks`` and ``language`` metadata optional) is
read as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from llmcert.errors import SpecError
from llmcert.items import Item


@dataclass(frozen=True)
class BehaviourSource:
    name: str
    dataset: str  # name in standards.banks.import_bank
    language: str
    licence: str
    upstream: str
    citation: str
    shipped: str = "importer only; rows are read from a local copy"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "licence": self.licence,
            "upstream": self.upstream,
            "citation": self.citation,
            "shipped": self.shipped,
        }


SOURCES: dict[str, BehaviourSource] = {
    s.name: s
    for s in (
        BehaviourSource(
            "harmbench", "harmbench", "en", "MIT",
            "centerforaisafety/HarmBench, data/behavior_datasets/harmbench_behaviors_text_all.csv",
            "Mazeika et al. 2024, HarmBench: A Standardized Evaluation Framework for Automated "
            "Red Teaming and Robust Refusal",
        ),
        BehaviourSource(
            "advbench", "advbench", "en", "MIT",
            "llm-attacks/llm-attacks, data/advbench/harmful_behaviors.csv",
            "Zou et al. 2023, Universal and Transferable Adversarial Attacks on Aligned "
            "Language Models",
        ),
        BehaviourSource(
            "jade-db", "jade-db", "zh", "MIT",
            "whitzard-ai/jade-db, jade-db-v1.0 and jade-db-v2.0 CSV files",
            "Zhang et al. 2023, JADE: A Linguistics-based Safety Evaluation Platform for LLM",
        ),
    )
}  # fmt: skip

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _with_language(item: Item) -> Item:
    if item.metadata.get("language"):
        return item
    lang = "zh" if _CJK.search(item.input) else "en"
    return replace(item, metadata={**item.metadata, "language": lang})


def load_behaviours(bank: str, data: Path | None) -> tuple[list[Item], dict[str, Any]]:
    """The behaviours of a named public bank (from ``data``) or of a user's bank file.

    Returns the items and the source record written into the result.
    """
    from llmcert.standards.banks import import_bank, read_bank

    source = SOURCES.get(bank)
    if source is not None:
        if data is None:
            raise SpecError(
                f"the {bank} bank is read from a local copy of the dataset: give --data PATH "
                f"(upstream: {source.upstream})"
            )
        items = import_bank(source.dataset, data, kind="should_refuse")
        record = source.to_dict()
    else:
        path = Path(bank)
        if not path.is_file():
            known = ", ".join(SOURCES)
            raise SpecError(f"no bank {bank!r}: give one of {known}, or a bank file", path=path)
        items = read_bank(path)
        record = {
            "name": path.name,
            "language": "per item",
            "licence": "user-supplied",
            "upstream": str(path),
            "citation": "",
            "shipped": "user-supplied file",
        }
    items = [_with_language(it) for it in items if it.input.strip()]
    if not items:
        raise SpecError(f"the {bank} bank holds no behaviours")
    return items, record
