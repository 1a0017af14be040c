"""Behaviour banks: the harmful requests attacks are applied to, with their sources' licences.

The public banks are read from a local copy (``--data PATH``) by the importers
of :mod:`llmcert.standards.banks`, which tag each behaviour with GB/T 45654 risk
ids through the built-in crosswalks (HarmBench, JADE-DB, JailBench; AdvBench,
Flames and MultiJail have none). llmcert ships their importers, not their rows:
the licences (MIT; Apache-2.0 for Flames) would allow copying with their notices,
but the rows are harmful requests and the upstream projects are where they are
maintained. JailBench's jailbreak templates are likewise recovered from the
user's copy at run time (:func:`template_attacks`). A user bank
(JSONL, CSV or JSON item file; ``risks`` and ``language`` metadata optional) is
read as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmcert.errors import SpecError
from llmcert.items import Item

if TYPE_CHECKING:
    from llmcert.attacks._attack import Attack


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
        BehaviourSource(
            "jailbench", "jailbench", "zh", "MIT",
            "STAIR-BUPT/JailBench, JailBench_seed.csv (and JailBench.csv for --templates)",
            "Liu et al. 2025, JailBench: A Comprehensive Chinese Security Assessment Benchmark "
            "for Large Language Models",
        ),
        BehaviourSource(
            "flames", "flames", "zh", "Apache-2.0",
            "AIFlames/Flames, Flames_1k_Chinese.jsonl",
            "Huang et al. 2024, Flames: Benchmarking Value Alignment of LLMs in Chinese",
        ),
        BehaviourSource(
            "multijail", "multijail", "10 languages", "MIT",
            "DAMO-NLP-SG/multilingual-safety-for-LLMs, data/MultiJail.csv",
            "Deng et al. 2024, Multilingual Jailbreak Challenges in Large Language Models",
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


def template_attacks(source: str, data: Path) -> list[Attack]:
    """L2 attacks from a dataset's jailbreak templates, read from the user's copy.

    Only JailBench has them (20 Chinese templates). Each attack's material is its
    template text, so a changed file gives new digests.
    """
    from llmcert.attacks._attack import Attack, Level, user
    from llmcert.standards._jailbreak_banks import SLOT, jailbench_templates

    if source != "jailbench":
        raise SpecError(f"no jailbreak templates in {source!r} (templates: jailbench)")

    def fill(text: str, _lang: str, _rng: Any, params: Any) -> Any:
        return user(str(params["template"]).replace(SLOT, text))

    return [
        Attack(
            f"l2.jailbench-{i:02d}",
            "1.0.0",
            Level.L2,
            "template",
            "a JailBench jailbreak template (MIT), read from the local copy",
            ("zh",),
            fill,
            {"template": template},
            {"source": "jailbench", "licence": "MIT"},
        )
        for i, template in enumerate(jailbench_templates(data), 1)
    ]
