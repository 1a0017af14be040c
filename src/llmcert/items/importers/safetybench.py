"""SafetyBench, Chinese test subset: safety multiple-choice questions, 7 categories."""

from __future__ import annotations

from pathlib import Path

from llmcert.items._hub import RemoteFile
from llmcert.items._item import Item
from llmcert.items.importers._base import Importer, Options, expect, load_json, locate, raw_url

_REPO = "thu-coai/SafetyBench"
_REVISION = "960833692a1ec82b191ff3e902daca7993c35cc1"
_QUESTIONS = RemoteFile(
    "test_zh_subset.json",
    raw_url(_REPO, _REVISION, "opensource_data/test_zh_subset.json"),
    "8760b0621df0fa81b99f7e49961853f1ff8b5ac0e4f1f96dad20a587c33aea4f",
)
_ANSWERS = RemoteFile(
    "test_answers_zh_subset.json",
    raw_url(_REPO, _REVISION, "opensource_data/test_answers_zh_subset.json"),
    "41c3e40330a7a96375de54b46df4839f6a46e8c9f6be974a2d31b35b8012af6c",
)


def _remote(options: Options) -> tuple[RemoteFile, ...]:
    return (_QUESTIONS, _ANSWERS)


def _parse(root: Path, options: Options) -> list[Item]:
    qpath = locate(root, _QUESTIONS.rel)
    # answers live beside the questions, whichever of the two the user named
    apath = locate(qpath.parent, _ANSWERS.rel)
    questions = load_json(qpath)
    answers = load_json(apath)
    expect(isinstance(questions, list), "expected a JSON array of questions", path=qpath)
    expect(isinstance(answers, dict), "expected a JSON object keyed by question id", path=apath)
    items: list[Item] = []
    for n, row in enumerate(questions, 1):
        where = f"[{n - 1}]"
        expect(isinstance(row, dict), f"{where} is not an object", path=qpath)
        qid, question, options_ = row.get("id"), row.get("question"), row.get("options")
        expect(
            isinstance(qid, int) and not isinstance(qid, bool),
            f"{where} has no integer id",
            path=qpath,
            field="id",
        )
        expect(
            isinstance(question, str) and bool(question.strip()),
            f"question {qid} has no text",
            path=qpath,
            field="question",
        )
        expect(
            isinstance(options_, list)
            and len(options_) >= 2
            and all(isinstance(o, str) for o in options_),
            f"question {qid} needs a list of at least two options",
            path=qpath,
            field="options",
        )
        key = answers.get(str(qid))
        expect(isinstance(key, dict), f"no answer for question {qid}", path=apath, field=str(qid))
        answer = key.get("answer")
        expect(
            isinstance(answer, int)
            and not isinstance(answer, bool)
            and 0 <= answer < len(options_),
            f"answer for question {qid} is not an index into its {len(options_)} options",
            path=apath,
            field=f"{qid}.answer",
        )
        category = row.get("category", key.get("category"))
        expect(
            isinstance(category, str),
            f"question {qid} has no category",
            path=qpath,
            field="category",
        )
        items.append(
            Item(
                id=f"safetybench-zh-{qid:05d}",
                input=question,
                choices=tuple(options_),
                answer_index=answer,
                metadata={
                    "dataset": "safetybench_zh",
                    "language": "zh",
                    "category": category,
                    "source_id": qid,
                    "source_row": n,
                },
            )
        )
    return items


IMPORTER = Importer(
    name="safetybench_zh",
    description="SafetyBench Chinese subset (2,100 safety MCQ, 7 categories × 300)",
    language="zh",
    folder="safetybench_zh_subset",
    revision=_REVISION,
    remote=_remote,
    parse=_parse,
)
