"""The built-in suites: they load, their digests are stable, and they cover what they claim."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from llmcert.errors import SpecError
from llmcert.suites import BUILTIN_SUITES, COMPLETION_VARIANTS, builtin_suite_path, load_suite

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"public dataset copies not found at {SHARED}"
)
BUILTIN_DIR = builtin_suite_path("default").parent.parent  # type: ignore[union-attr]

#: importer suite -> (shared folder, importer, scorer, request kind)
IMPORTER_SUITES = {
    "gsm8k": ("gsm8k", "gsm8k", "numeric", "chat"),
    "mgsm-en": ("mgsm", "mgsm", "numeric", "chat"),
    "mgsm-zh": ("mgsm", "mgsm", "numeric", "chat"),
    "bbh": ("bbh", "bbh", "exact_match", "chat"),
    "truthfulqa-mc1": ("truthfulqa", "truthfulqa_mc1", "choice_loglikelihood", "completion"),
    "truthfulqa-mc1-gen": ("truthfulqa", "truthfulqa_mc1", "choice_letter", "chat"),
    "safetybench-zh": ("safetybench_zh_subset", "safetybench_zh", "choice_letter", "chat"),
    "humaneval": ("humaneval", "humaneval", "code_tests", "chat"),
    "humaneval-completion": ("humaneval", "humaneval", "code_tests", "completion"),
    "humaneval-plus": ("humanevalplus", "humanevalplus", "code_tests", "chat"),
    "mbpp": ("mbpp", "mbpp", "code_tests", "chat"),
    "mbpp-plus": ("mbppplus", "mbppplus", "code_tests", "chat"),
    "gsm8k-completion": ("gsm8k", "gsm8k", "numeric", "completion"),
    "mgsm-en-completion": ("mgsm", "mgsm", "numeric", "completion"),
    "mgsm-zh-completion": ("mgsm", "mgsm", "numeric", "completion"),
    "bbh-completion": ("bbh", "bbh", "exact_match", "completion"),
}
COUNTS = {
    "gsm8k-completion": 1319,
    "mgsm-en-completion": 250,
    "mgsm-zh-completion": 250,
    "bbh-completion": 6511,
    "gsm8k": 1319,
    "mgsm-en": 250,
    "mgsm-zh": 250,
    "bbh": 6511,
    "truthfulqa-mc1": 790,
    "truthfulqa-mc1-gen": 790,
    "safetybench-zh": 2100,
    "humaneval": 164,
    "humaneval-completion": 164,
    "humaneval-plus": 164,
    "mbpp": 500,
    "mbpp-plus": 378,
}


def test_manifest_matches_the_files() -> None:
    on_disk = {str(p.relative_to(BUILTIN_DIR)) for p in BUILTIN_DIR.rglob("*.yaml")}
    assert on_disk == set(BUILTIN_SUITES.values())
    local = {
        "default",
        "default-completion",
        "truthfulness-bilingual",
        "gbt45654-should-refuse",
        "gbt45654-should-not-refuse",
        "gbt45654-generated",
    }
    assert set(IMPORTER_SUITES) | local == set(BUILTIN_SUITES)


def test_every_completion_variant_exists_and_needs_no_chat_template() -> None:
    for chat_suite, variant in COMPLETION_VARIANTS.items():
        assert load_suite("default").spec.prompt.kind == "chat" or chat_suite != "default"
        assert variant in BUILTIN_SUITES
        assert builtin_suite_path(variant) is not None
    completion = load_suite("default-completion")
    assert completion.spec.prompt.kind == "completion"
    assert completion.spec.scorer.name == "choice_loglikelihood"
    assert [it.id for it in completion.items] == [it.id for it in load_suite("default").items]


# --- the default suite ---------------------------------------------------------


def test_default_suite_loads_without_data() -> None:
    suite = load_suite("default")
    spec = suite.spec
    assert spec.name == "default"
    assert spec.license == "Apache-2.0"
    assert spec.scorer.name == "choice_letter"
    assert spec.prompt.kind == "chat"
    assert spec.generation.max_tokens <= 8
    assert spec.generation.temperature == 0.0
    assert spec.group_by == ("language",)
    assert set(spec.languages) == {"en", "zh"}
    assert spec.items.source is not None


def test_default_suite_is_bilingual_and_balanced() -> None:
    items = load_suite("default").items
    assert 36 <= len(items) <= 48
    languages = Counter(it.metadata["language"] for it in items)
    assert languages["en"] == languages["zh"] == len(items) // 2
    categories = {it.metadata["category"] for it in items}
    assert categories == {"arithmetic", "knowledge", "reasoning", "safety-awareness"}
    for lang in ("en", "zh"):
        per_cat = Counter(
            it.metadata["category"] for it in items if it.metadata["language"] == lang
        )
        assert len(per_cat) == 4
        assert min(per_cat.values()) >= 3
    for it in items:
        assert 3 <= len(it.choices) <= 4
        assert it.answer_index is not None
        assert 0 <= it.answer_index < len(it.choices)
        assert len(set(it.choices)) == len(it.choices)
    # the right letter is spread out, so always answering one letter scores poorly
    letters = Counter(it.answer_index for it in items)
    assert len(letters) == 4
    assert max(letters.values()) <= len(items) * 0.35


def test_default_prompts_are_short_and_ask_for_a_letter() -> None:
    suite = load_suite("default")
    renderer = suite.renderer
    for it in suite.items:
        (message,) = renderer.messages(it)
        assert message.role == "user"
        assert len(message.content) < 260
        for letter, choice in zip("ABCD", it.choices, strict=False):
            assert f"{letter}. {choice}" in message.content
        if it.metadata["language"] == "zh":
            assert message.content.endswith("只回答选项字母。")
        else:
            assert message.content.endswith("Answer with the letter only.")


def test_default_digest_is_stable_across_processes() -> None:
    digest = load_suite("default").digest
    assert digest.startswith("sha256:")
    assert load_suite("default").digest == digest
    code = "from llmcert.suites import load_suite; print(load_suite('default').digest)"
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert out.stdout.strip() == digest


# --- the importer suites ------------------------------------------------------------


@pytest.mark.parametrize("name", list(IMPORTER_SUITES))
def test_importer_suite_spec(name: str) -> None:
    from llmcert._yamlspec import load_yaml_spec
    from llmcert.suites import SuiteSpec

    _, importer, scorer, kind = IMPORTER_SUITES[name]
    spec = load_yaml_spec(builtin_suite_path(name), SuiteSpec)  # type: ignore[arg-type]
    assert spec.name == name
    assert spec.items.importer == importer
    assert spec.items.path is None  # the user passes --data PATH
    assert spec.scorer.name == scorer
    assert spec.prompt.kind == kind
    assert spec.license
    if name == "bbh":
        assert spec.group_by == ("task",)
        assert spec.items.options == {"task": "all"}
    if name == "safetybench-zh":
        assert spec.group_by == ("category",)
    if name.startswith("mgsm"):
        assert spec.items.options == {"language": name.removesuffix("-completion")[-2:]}
    if scorer == "numeric":
        assert spec.generation.max_tokens >= 200


@needs_shared
@pytest.mark.parametrize("name", list(IMPORTER_SUITES))
def test_importer_suite_loads_with_data(name: str) -> None:
    folder = IMPORTER_SUITES[name][0]
    suite = load_suite(name, data=SHARED / folder)
    assert len(suite.items) == COUNTS[name]
    assert load_suite(name, data=SHARED / folder).digest == suite.digest
    renderer = suite.renderer
    for it in suite.items[:: max(1, len(suite.items) // 20)]:
        if suite.spec.prompt.kind == "chat":
            (message,) = renderer.messages(it)
            assert it.input in message.content
            for letter, choice in zip("ABCDEFGHIJKLM", it.choices, strict=False):
                assert (
                    f"{letter}) {choice}" in message.content
                    or f"{letter}. {choice}" in message.content
                )
        else:
            assert it.input in renderer.completion(it)
            assert renderer.continuations(it) == tuple(" " + c for c in it.choices)
    for key in suite.spec.group_by:
        assert all(key in it.metadata for it in suite.items)


@needs_shared
def test_letter_suites_do_not_reward_always_a() -> None:
    for name in ("truthfulqa-mc1-gen", "safetybench-zh"):
        suite = load_suite(name, data=SHARED / IMPORTER_SUITES[name][0])
        share_a = sum(it.answer_index == 0 for it in suite.items) / len(suite.items)
        assert share_a < 0.5, name


def test_importer_suite_without_data_explains_how_to_pass_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from llmcert.items import _hub

    def offline(self: object, url: str) -> bytes:
        raise _hub.FetchError("network unreachable")

    monkeypatch.setenv("LLMCERT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_hub.HttpFetcher, "__call__", offline)
    with pytest.raises(SpecError, match="--data PATH"):
        load_suite("gsm8k")


# --- what the digest covers ----------------------------------------------------------


def copy_default(tmp_path: Path) -> Path:
    shutil.copytree(BUILTIN_DIR / "default", tmp_path / "default")
    return tmp_path / "default" / "suite.yaml"


def test_same_items_elsewhere_same_digest(tmp_path: Path) -> None:
    path = copy_default(tmp_path)
    assert load_suite(path).digest == load_suite("default").digest


def test_description_is_not_part_of_the_digest(tmp_path: Path) -> None:
    path = copy_default(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("description: >-", "description: >-\n  Reworded."), encoding="utf-8"
    )
    assert load_suite(path).spec.description.startswith("Reworded.")
    assert load_suite(path).digest == load_suite("default").digest


def test_renamed_items_file_same_digest(tmp_path: Path) -> None:
    path = copy_default(tmp_path)
    (path.parent / "items.jsonl").rename(path.parent / "bank.jsonl")
    text = path.read_text(encoding="utf-8").replace("source: items.jsonl", "source: bank.jsonl")
    path.write_text(text, encoding="utf-8")
    assert load_suite(path).digest == load_suite("default").digest


def test_changing_an_item_changes_the_digest(tmp_path: Path) -> None:
    path = copy_default(tmp_path)
    items_path = path.parent / "items.jsonl"
    rows = [json.loads(line) for line in items_path.read_text(encoding="utf-8").splitlines()]
    rows[3]["answer_index"] = (rows[3]["answer_index"] + 1) % len(rows[3]["choices"])
    items_path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    assert load_suite(path).digest != load_suite("default").digest


def test_reordering_items_changes_the_digest(tmp_path: Path) -> None:
    path = copy_default(tmp_path)
    items_path = path.parent / "items.jsonl"
    lines = items_path.read_text(encoding="utf-8").splitlines(keepends=True)
    items_path.write_text("".join([lines[1], lines[0], *lines[2:]]), encoding="utf-8")
    assert load_suite(path).digest != load_suite("default").digest


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Answer with the letter only.", "Reply with the letter only."),
        ("max_tokens: 8", "max_tokens: 9"),
        ("temperature: 0.0", "temperature: 0.5"),
        ("name: choice_letter", "name: exact_match"),
        ("group_by: [language]", "group_by: [category]"),
        ("version: 1.0.0", "version: 1.0.1"),
    ],
)
def test_prompt_settings_and_scorer_change_the_digest(tmp_path: Path, old: str, new: str) -> None:
    path = copy_default(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    assert load_suite(path).digest != load_suite("default").digest


@needs_shared
def test_importer_suite_digest_ignores_where_the_data_lives(tmp_path: Path) -> None:
    shutil.copytree(SHARED / "mgsm", tmp_path / "my-mgsm")
    here = load_suite("mgsm-zh", data=tmp_path / "my-mgsm")
    there = load_suite("mgsm-zh", data=SHARED / "mgsm")
    assert here.digest == there.digest
    assert here.digest != load_suite("mgsm-en", data=SHARED / "mgsm").digest
