"""The JSON result file: round trip, atomic replacement, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcert.errors import SpecError
from llmcert.report import SCHEMA, EvalResult, load_result, write_json

from .conftest import ZH_ANSWER


def test_round_trip(result: EvalResult, tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    write_json(result, path)
    loaded = load_result(path)
    assert loaded == result
    assert loaded.metrics[4].estimate is None


def test_file_layout(result: EvalResult, tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    write_json(result, path)
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    data = json.loads(text)
    assert data["schema"] == SCHEMA
    assert "schema_" not in data
    assert ZH_ANSWER in text  # UTF-8 as is, not \u escapes
    assert text.startswith('{\n  "schema"')
    assert data["errors"] == {"BackendUnavailable": 1}


def test_overwrite_leaves_no_temporary_files(result: EvalResult, tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text("old", encoding="utf-8")
    write_json(result, path)
    write_json(result, path)
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    assert load_result(path) == result


def test_failed_replace_keeps_old_file(
    result: EvalResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "result.json"
    path.write_text("previous result", encoding="utf-8")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_json(result, path)
    assert path.read_text(encoding="utf-8") == "previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_load_rejects_other_files(result: EvalResult, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"schema": "llmcert.eval-result/1"}', encoding="utf-8")
    with pytest.raises(SpecError, match="not a valid llmcert result") as info:
        load_result(path)
    assert info.value.path == path

    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(SpecError, match="UTF-8"):
        load_result(path)

    path.write_text("not json at all", encoding="utf-8")
    with pytest.raises(SpecError, match="not a valid llmcert result"):
        load_result(path)

    data = json.loads(result.model_dump_json(by_alias=True))
    data["schema"] = "llmcert.eval-result/999"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SpecError, match="999") as info:
        load_result(path)
    assert info.value.field == "schema"
