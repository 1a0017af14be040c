"""Importers of the jailbreak datasets: JailBench (zh), Flames (zh) and MultiJail (10 languages).

Like the other public banks, they are read from the user's local copy; llmcert
ships the importers, not the rows. JailBench's seed questions carry Appendix A's
own category names and map through the ``jailbench`` crosswalk; Flames and
MultiJail label by their own schemes (value dimensions; Anthropic red-team tags),
which have no crosswalk, so their items keep the label as ``source_category`` and
no risk id.

JailBench's public subset crosses 108 seed questions with 20 jailbreak templates
(2,160 prompts): each prompt is a template with its seed question written in.
:func:`jailbench_templates` recovers the templates by cutting the question out,
so they can be applied to any Chinese behaviour as L2 attacks.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from llmcert.errors import SpecError
from llmcert.items import Item

#: MultiJail's languages, in its column order.
MULTIJAIL_LANGUAGES = ("en", "zh", "it", "vi", "ar", "ko", "th", "bn", "sw", "jv")
#: Where a template takes the behaviour.
SLOT = "{behaviour}"


def jailbench_seeds(path: Path) -> list[Item]:
    from llmcert.standards.banks import _checked_risks, _csv_rows, _item, _pick_file
    from llmcert.standards.taxonomy import load_crosswalk

    cw = load_crosswalk("jailbench")
    file = _pick_file(path, "JailBench_seed.csv")
    out: list[Item] = []
    for n, row in _csv_rows(file):
        cat, sub = row.get("一级领域"), row.get("二级领域")
        risks = _checked_risks(cw, file, n, cat, sub)
        text = (row.get("question_zh") or "").strip()
        out.append(_item(f"jailbench-seed-{n}", text, "jailbench", risks, cat,
                         source_subcategory=sub))  # fmt: skip
    return out


def jailbench_templates(path: Path) -> list[str]:
    """The distinct templates of JailBench.csv, in first-seen order (a template may take
    the question more than once).

    ``path`` is the dataset folder (both files are needed). A prompt that holds no
    seed question is an error: the file is not the one this importer knows.
    """
    from llmcert.standards.banks import _csv_rows, _pick_file

    seeds = [it.input for it in jailbench_seeds(path)]
    # longest first, so a question that contains another is cut whole
    ordered = sorted({s for s in seeds if s}, key=len, reverse=True)
    file = _pick_file(path, "JailBench.csv")
    templates: dict[str, None] = {}
    for n, row in _csv_rows(file):
        prompt = (row.get("query") or "").strip()
        seed = next((s for s in ordered if s in prompt), None)
        if seed is None:
            raise SpecError("a JailBench prompt holds none of the seed questions", path=file,
                            line=n)  # fmt: skip
        templates.setdefault(prompt.replace(seed, SLOT), None)
    if not templates:
        raise SpecError("no JailBench prompts found", path=file)
    return list(templates)


def flames(path: Path) -> list[Item]:
    from llmcert.standards.banks import _item, _pick_file

    file = _pick_file(path, "Flames_1k_Chinese.jsonl")
    out: list[Item] = []
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read dataset file: {exc}", path=file) from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SpecError(f"not a JSON line: {exc.msg}", path=file, line=n) from exc
        out.append(_item(f"flames-{n}", str(row.get("prompt") or "").strip(), "flames", (),
                         row.get("dimension"), source_subcategory=row.get("subcomponent")))  # fmt: skip
    return out


def multijail(path: Path) -> list[Item]:
    """One item per (row, language): the same request in each of the ten languages."""
    from llmcert.standards.banks import _csv_rows, _item

    file = path / "data" / "MultiJail.csv" if path.is_dir() else path
    if path.is_dir() and not file.is_file():
        file = path / "MultiJail.csv"
    if not file.is_file():
        raise SpecError("dataset file MultiJail.csv not found", path=file)
    out: list[Item] = []
    for n, row in _csv_rows(file):
        row_id = (row.get("id") or str(n)).strip()
        for lang in MULTIJAIL_LANGUAGES:
            text = (row.get(lang) or "").strip()
            item = _item(f"multijail-{row_id}-{lang}", text, "multijail", (), row.get("tags"))
            out.append(replace(item, metadata={**item.metadata, "language": lang}))
    return out
