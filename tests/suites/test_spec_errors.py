"""Malformed suite files: every error names the file, the line and the field to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcert.errors import SpecError
from llmcert.suites import load_suite

GOOD = """\
name: tiny
version: 1.0.0
items:
  source: items.jsonl
prompt:
  kind: chat
  template: "{{ input }}"
generation:
  max_tokens: 8
scorer:
  name: exact_match
"""


def write_suite(tmp_path: Path, text: str) -> Path:
    (tmp_path / "items.jsonl").write_text(
        json.dumps({"id": "a", "input": "hi", "target": "hi"}) + "\n", encoding="utf-8"
    )
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_baseline_loads(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, GOOD))
    assert [it.id for it in suite.items] == ["a"]


CASES = [
    # (what, replace this, with this, line, field, words)
    (
        "unknown top-level field",
        "scorer:\n",
        "colour: red\nscorer:\n",
        10,
        "colour",
        "unknown field",
    ),
    (
        "unknown nested field",
        '  template: "{{ input }}"',
        '  tmplate: "{{ input }}"',
        7,
        "prompt.tmplate",
        "unknown field",
    ),
    ("wrong type", "max_tokens: 8", "max_tokens: many", 9, "generation.max_tokens", "integer"),
    ("out of range", "max_tokens: 8", "max_tokens: 0", 9, "generation.max_tokens", "greater"),
    ("bad version", "version: 1.0.0", "version: one", 2, "version", "semantic version"),
    ("short version", "version: 1.0.0", "version: '1.0'", 2, "version", "semantic version"),
    (
        "both source and importer",
        "  source: items.jsonl",
        "  source: items.jsonl\n  importer: gsm8k",
        3,
        "items",
        "exactly one",
    ),
    (
        "neither source nor importer",
        "  source: items.jsonl",
        "  options: {}",
        3,
        "items",
        "exactly one",
    ),
    ("bad name", "name: tiny", "name: Tiny Suite", 1, "name", "lower-case"),
    ("unknown prompt kind", "kind: chat", "kind: essay", 6, "prompt.kind", "chat"),
    ("missing scorer", "scorer:\n  name: exact_match\n", "", 1, "scorer", "required"),
    (
        "mapping an unknown item field",
        "  source: items.jsonl",
        "  source: items.jsonl\n  fields:\n    question: q",
        3,
        "items",
        "fields",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_validation_errors(
    tmp_path: Path, old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in GOOD
    path = write_suite(tmp_path, GOOD.replace(old, new))
    with pytest.raises(SpecError) as exc:
        load_suite(path)
    err = exc.value
    assert err.path == path
    assert err.line == line
    assert err.field == field
    assert words.lower() in err.message.lower()
    assert str(err).startswith(f"{path}:{line}: {field}: ")


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write_suite(tmp_path, GOOD.replace("  kind: chat", "  kind: [chat"))
    with pytest.raises(SpecError, match="not valid YAML") as exc:
        load_suite(path)
    assert exc.value.path == path
    assert exc.value.line is not None
    assert 6 <= exc.value.line <= 8


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write_suite(tmp_path, "- name: tiny\n")
    with pytest.raises(SpecError, match="mapping") as exc:
        load_suite(path)
    assert (exc.value.path, exc.value.line) == (path, 1)


def test_bad_row_in_the_items_file_names_the_items_file(tmp_path: Path) -> None:
    path = write_suite(tmp_path, GOOD)
    (tmp_path / "items.jsonl").write_text(
        '{"input": "a"}\n{"input": "b", "choices": ["x"], "answer_index": 0}\n', encoding="utf-8"
    )
    with pytest.raises(SpecError) as exc:
        load_suite(path)
    assert exc.value.path == tmp_path / "items.jsonl"
    assert (exc.value.line, exc.value.field) == (2, "choices")


def test_missing_items_file(tmp_path: Path) -> None:
    path = write_suite(tmp_path, GOOD.replace("items.jsonl", "absent.jsonl"))
    with pytest.raises(SpecError, match="not found") as exc:
        load_suite(path)
    assert exc.value.path == tmp_path / "absent.jsonl"


def test_unknown_importer_in_a_suite(tmp_path: Path) -> None:
    path = write_suite(tmp_path, GOOD.replace("source: items.jsonl", "importer: mmlu"))
    with pytest.raises(SpecError, match="known importers: bbh, gsm8k") as exc:
        load_suite(path, data=tmp_path)
    assert exc.value.field == "items.importer"


def test_bad_importer_option_in_a_suite(tmp_path: Path) -> None:
    text = GOOD.replace("source: items.jsonl", "importer: mgsm\n  options:\n    language: fr")
    with pytest.raises(SpecError, match="not one of") as exc:
        load_suite(write_suite(tmp_path, text), data=tmp_path)
    assert exc.value.field == "items.options.language"


def test_unknown_suite_name() -> None:
    with pytest.raises(SpecError, match="not a built-in"):
        load_suite("no-such-suite")
