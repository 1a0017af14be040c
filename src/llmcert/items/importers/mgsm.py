"""MGSM: the GSM8K problems human-translated; English and Chinese here."""

from __future__ import annotations

from pathlib import Path

from llmcert.items._hub import RemoteFile
from llmcert.items._item import Item
from llmcert.items.importers._base import (
    Importer,
    Option,
    Options,
    expect,
    item_id,
    locate,
    number_text,
    raw_url,
    read_text,
)

_REPO = "google-research/url-nlp"
_REVISION = "452a21ad3dae5668c06ceeac21ff073e1e40f9be"
_SHA256 = {
    "en": "50021d0f28cc957edcb44e7806425b1c7fbd648ddcb9e0a8ec689d10e57d40fa",
    "zh": "b2fa63151022370a0de1f4211c8c284eae74b0f5a3b003b1d5982c0d4a73f661",
}


def _file(language: str) -> RemoteFile:
    name = f"mgsm_{language}.tsv"
    return RemoteFile(name, raw_url(_REPO, _REVISION, f"mgsm/{name}"), _SHA256[language])


def _remote(options: Options) -> tuple[RemoteFile, ...]:
    return (_file(options["language"]),)


def _parse(root: Path, options: Options) -> list[Item]:
    language: str = options["language"]
    path = locate(root, _file(language).rel)
    items: list[Item] = []
    for lineno, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        # no header; question TAB answer (the answer is always the last cell)
        question, tab, answer = line.rpartition("\t")
        expect(
            bool(tab) and bool(question.strip()),
            "expected 'question<TAB>answer'",
            path=path,
            line=lineno,
        )
        target = number_text(answer)
        expect(
            target is not None,
            f"answer {answer!r} is not a number",
            path=path,
            line=lineno,
            field="answer",
        )
        n = len(items) + 1
        items.append(
            Item(
                id=item_id(f"mgsm-{language}", n),
                input=question,
                target=target,
                metadata={"dataset": "mgsm", "language": language, "source_row": lineno},
            )
        )
    return items


IMPORTER = Importer(
    name="mgsm",
    description="MGSM maths word problems (250 per language); target is the number",
    language="en, zh",
    folder="mgsm",
    revision=_REVISION,
    remote=_remote,
    parse=_parse,
    options={"language": Option(allowed=("en", "zh"), help="which translation to load")},
)
