"""Item files: each format, field mapping, and an exact location for every mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcert.errors import SpecError
from llmcert.items import Item, read_item_file


def write(tmp_path: Path, name: str, text: str, *, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def jsonl(*rows: object) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


# --- the three formats -------------------------------------------------------


def test_jsonl_reads_fields_and_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bank.jsonl",
        jsonl(
            {"id": "a", "input": "2+2?", "target": "4", "language": "en", "category": "arithmetic"},
            {
                "input": "选哪个？",
                "choices": ["甲", "乙", "丙"],
                "answer_index": 2,
                "language": "zh",
            },
        )
        + "\n",  # a trailing blank line is not a row
    )
    first, second = read_item_file(path)
    assert first == Item(
        id="a", input="2+2?", target="4", metadata={"language": "en", "category": "arithmetic"}
    )
    assert second.id == "bank-2"  # generated from the file stem and row number
    assert second.choices == ("甲", "乙", "丙")
    assert second.answer_index == 2
    assert second.target is None
    assert second.metadata == {"language": "zh"}


def test_jsonl_numbers_become_text_and_nested_metadata_merges(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "n.jsonl",
        jsonl({"id": 7, "input": "how many?", "target": 18, "metadata": {"source": "x"}, "k": 1}),
    )
    (item,) = read_item_file(path)
    assert item.id == "7"
    assert item.target == "18"
    assert item.metadata == {"source": "x", "k": 1}


def test_csv_with_bom_json_choices_and_empty_cells(tmp_path: Path) -> None:
    text = (
        "id,input,target,choices,answer_index,language\n"
        'c1,"Pick one, please","","[""x"", ""y""]",1,en\n'
        'c2,"two\nlines",yes,,,zh\n'
    )
    path = write(tmp_path, "bank.csv", "\ufeff" + text)
    c1, c2 = read_item_file(path)
    assert c1 == Item(
        id="c1",
        input="Pick one, please",
        choices=("x", "y"),
        answer_index=1,
        metadata={"language": "en"},
    )
    assert c2.input == "two\nlines"
    assert c2.target == "yes"
    assert c2.choices == ()
    assert c2.answer_index is None


def test_json_array(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bank.json",
        json.dumps([{"input": "a", "target": "1"}, {"input": "b", "language": "en"}], indent=2),
    )
    items = read_item_file(path)
    assert [it.id for it in items] == ["bank-1", "bank-2"]
    assert items[1].metadata == {"language": "en"}


def test_jsonl_line_separators_inside_strings_and_crlf(tmp_path: Path) -> None:
    # U+2028 is legal inside a JSON string and must not split the row
    text = '{"input": "a\u2028b"}\r\n{"input": "c"}\r\n{"target": "x"}\r\n'
    path = write(tmp_path, "x.jsonl", text)
    with pytest.raises(SpecError) as exc:
        read_item_file(path)
    assert exc.value.line == 3
    path.write_text(text.rsplit("{", 1)[0], encoding="utf-8")
    first, second = read_item_file(path)
    assert first.input == "a\u2028b"
    assert second.id == "x-2"


def test_csv_rows_of_empty_cells_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "input,target\nx,1\n,\n\ny,2\n")
    assert [it.input for it in read_item_file(path)] == ["x", "y"]
    assert [it.id for it in read_item_file(path)] == ["s-1", "s-2"]


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    path = write(tmp_path, "UPPER.JSONL", jsonl({"input": "x"}))
    assert read_item_file(path)[0].id == "UPPER-1"


# --- field mapping -----------------------------------------------------------


def test_field_mapping_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "ID,prompt,expected,input\nq1,Say hi,hi,ignored\n")
    (item,) = read_item_file(path, {"id": "ID", "input": "prompt", "target": "expected"})
    assert item.id == "q1"
    assert item.input == "Say hi"
    assert item.target == "hi"
    # an unmapped column keeps its value as metadata, even if named like an item field
    assert item.metadata == {"input": "ignored"}


def test_field_mapping_jsonl_choices_and_index(tmp_path: Path) -> None:
    path = write(
        tmp_path, "m.jsonl", jsonl({"q": "?", "opts": ["a", "b"], "gold": 0, "lang": "en"})
    )
    (item,) = read_item_file(path, {"input": "q", "choices": "opts", "answer_index": "gold"})
    assert item.choices == ("a", "b")
    assert item.answer_index == 0
    assert item.metadata == {"lang": "en"}


def test_field_mapping_names_the_column_when_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"input": "x"}))
    with pytest.raises(SpecError) as exc:
        read_item_file(path, {"input": "prompt"})
    assert (exc.value.line, exc.value.field) == (1, "prompt")


def test_field_mapping_rejects_unknown_item_field(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"input": "x"}))
    with pytest.raises(SpecError) as exc:
        read_item_file(path, {"question": "input"})
    assert exc.value.field == "fields"


# --- ids and hashes ------------------------------------------------------------


def test_generated_ids_and_hashes_do_not_depend_on_the_folder(tmp_path: Path) -> None:
    text = jsonl({"input": "a"}, {"input": "b"})
    one = read_item_file(write(tmp_path, "bank.jsonl", text))
    (tmp_path / "elsewhere").mkdir()
    two = read_item_file(write(tmp_path / "elsewhere", "bank.jsonl", text))
    assert [it.hash for it in one] == [it.hash for it in two]
    assert [it.id for it in one] == ["bank-1", "bank-2"]


# --- malformed files: file, line and field -------------------------------------

MALFORMED = [
    # (file name, content, line, field, words in the message)
    ("a.jsonl", jsonl({"input": "ok"}, {"target": "x"}), 2, "input", "missing"),
    ("a.jsonl", jsonl({"input": "ok"}) + "\n" + '{"input": "x",\n', 3, None, "JSON"),
    ("a.jsonl", jsonl({"input": "ok"}, ["not", "an", "object"]), 2, None, "object"),
    ("a.jsonl", jsonl({"input": "   "}), 1, "input", "empty"),
    ("a.jsonl", jsonl({"input": ["x"]}), 1, "input", "text"),
    (
        "a.jsonl",
        jsonl({"input": "x", "choices": ["a", "b"], "answer_index": 2}),
        1,
        "answer_index",
        "out of range",
    ),
    (
        "a.jsonl",
        jsonl({"input": "x", "choices": ["a", "b"], "answer_index": -1}),
        1,
        "answer_index",
        "out of range",
    ),
    (
        "a.jsonl",
        jsonl({"input": "x", "choices": ["a", "b"], "answer_index": "1"}),
        1,
        "answer_index",
        "whole number",
    ),
    (
        "a.jsonl",
        jsonl({"input": "x", "choices": ["a", "b"], "answer_index": True}),
        1,
        "answer_index",
        "whole number",
    ),
    ("a.jsonl", jsonl({"input": "x", "answer_index": 0}), 1, "answer_index", "no choices"),
    ("a.jsonl", jsonl({"input": "x", "choices": "a,b"}), 1, "choices", "list"),
    ("a.jsonl", jsonl({"input": "x", "choices": ["a", 2]}), 1, "choices", "list"),
    ("a.jsonl", jsonl({"input": "x", "choices": ["only"]}), 1, "choices", "two"),
    ("a.jsonl", jsonl({"input": "x", "id": ""}), 1, "id", "empty"),
    (
        "a.jsonl",
        jsonl({"id": "q", "input": "x"}, {"input": "y"}, {"id": "q", "input": "z"}),
        3,
        "id",
        "duplicate",
    ),
    ("a.jsonl", '{"input": "x"}\n{"input": "y", "score": NaN}\n', 2, None, "NaN"),
    ("a.csv", "input,target\nok,1\n,2\n", 3, "input", "missing"),
    ("a.csv", 'input,choices\nx,"[""a"", ""b"""\n', 2, "choices", "JSON"),
    (
        "a.csv",
        'input,choices,answer_index\nx,"[""a"",""b""]",B\n',
        2,
        "answer_index",
        "whole number",
    ),
    ("a.csv", 'input,choices,answer_index\nx,"[""a"",""b""]",²\n', 2, "answer_index", "whole"),
    (
        "a.csv",
        'input,choices,answer_index\nx,"[""a"",""b""]",5\n',
        2,
        "answer_index",
        "out of range",
    ),
    ("a.csv", "input,target\nx,1\ny,2,3\n", 3, None, "cells"),
    ("a.csv", 'input,target\n"two\nline",1\n"unterminated,2\n', 4, None, "CSV"),
    ("a.csv", "input,input\nx,y\n", 1, "input", "duplicate"),
    ("a.csv", 'input,target\n"a\nb\nc",1\nz,\n,3\n', 6, "input", "missing"),
    ("a.json", '{"input": "x"}', 1, None, "array"),
    ("a.json", '[\n  {"input": "x"},\n  "y"\n]', 3, None, "object"),
    ("a.json", '[\n  {"input": "x"},\n]', 3, None, "JSON"),
    ("a.json", '[\n  {"input": "x"}\n  {"input": "y"}\n]', 3, None, "','"),
    ("a.json", '[\n  {"input": "x"},\n  {\n    "target": "y"\n  }\n]', 3, "input", "missing"),
    ("a.json", '[{"input": "x"}] trailing', 1, None, "after"),
]


@pytest.mark.parametrize(
    ("name", "text", "line", "field", "words"),
    MALFORMED,
    ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)],
)
def test_malformed_rows_name_line_and_field(
    tmp_path: Path, name: str, text: str, line: int, field: str | None, words: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(SpecError) as exc:
        read_item_file(path)
    err = exc.value
    assert err.path == path
    assert err.line == line
    assert err.field == field
    assert words.lower() in err.message.lower()
    assert f"{path}:{line}" in str(err)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("e.jsonl", ""),
        ("e.jsonl", "\n  \n"),
        ("e.csv", ""),
        ("e.csv", "input,target\n"),
        ("e.json", ""),
        ("e.json", "[]"),
    ],
)
def test_a_file_without_items_is_an_error(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(SpecError, match="no items") as exc:
        read_item_file(path)
    assert exc.value.path == path


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"input": "ok"}\n{"input": "\xff"}\n')
    with pytest.raises(SpecError, match="UTF-8") as exc:
        read_item_file(path)
    assert exc.value.line == 2


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "bank.txt", "input\nx\n")
    with pytest.raises(SpecError, match="unsupported"):
        read_item_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found") as exc:
        read_item_file(tmp_path / "nope.jsonl")
    assert exc.value.path == tmp_path / "nope.jsonl"
