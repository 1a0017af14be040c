"""Code benchmarks: what each item carries, and errors that name file, line and field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from llmcert.errors import SpecError
from llmcert.items import import_dataset
from llmcert.items._blobs import get_blob
from tests.items._data import SHARED, needs_shared


@needs_shared
def test_humaneval_items_carry_prompt_tests_and_reference() -> None:
    items = import_dataset("humaneval", SHARED / "humaneval", {})
    first = items[0].metadata
    assert first["task_id"] == "HumanEval/0"
    assert first["entry_point"] == "has_close_elements"
    assert first["tests"].rstrip().endswith("check(has_close_elements)")
    assert first["canonical"].startswith(first["prompt"])
    assert len({it.hash for it in items}) == 164


@needs_shared
def test_mbpp_is_the_test_split() -> None:
    items = import_dataset("mbpp", SHARED / "mbpp", {})
    ids = [int(it.metadata["task_id"].split("/")[1]) for it in items]
    assert ids == list(range(11, 511))
    assert "assert remove_Occ" in items[0].input


@needs_shared
def test_plus_tests_are_stored_by_digest_and_larger() -> None:
    items = import_dataset("humanevalplus", SHARED / "humanevalplus", {})
    meta = items[0].metadata
    plus = get_blob(meta["tests_plus"])
    assert meta["tests_plus"].startswith("sha256:")
    assert len(plus) > 10 * len(meta["tests"])


def _write_gz(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))


def test_malformed_humaneval_names_file_line_and_field(tmp_path: Path) -> None:
    good = {
        "task_id": "HumanEval/0",
        "prompt": "def f():\n",
        "entry_point": "f",
        "canonical_solution": "    return 1\n",
        "test": "def check(c):\n    assert c() == 1\n",
    }
    bad = {**good, "task_id": "HumanEval/1"}
    del bad["entry_point"]
    _write_gz(tmp_path / "HumanEval.jsonl.gz", [good, bad])
    with pytest.raises(SpecError) as info:
        import_dataset("humaneval", tmp_path, {})
    assert info.value.path == tmp_path / "HumanEval.jsonl.gz"
    assert info.value.line == 2
    assert info.value.field == "entry_point"


def test_test_code_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    row = {
        "task_id": 11,
        "text": "t",
        "code": "def f():\n    return 1\n",
        "test_list": ["assert f( == 1"],
        "test_setup_code": "",
    }
    (tmp_path / "mbpp.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(SpecError) as info:
        import_dataset("mbpp", tmp_path, {})
    assert (info.value.line, info.value.field) == (1, "test_list")


def test_broken_json_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "mbpp.jsonl").write_text('{"task_id": 11}\n{not json\n')
    with pytest.raises(SpecError) as info:
        import_dataset("mbpp", tmp_path, {})
    assert info.value.line in (1, 2)
