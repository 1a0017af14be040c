"""The assessment file: round trip, digest, atomic writes and clear load errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from llmcert.errors import LlmcertError, SpecError
from llmcert.report._assessment import ASSESSMENT_SCHEMA
from llmcert.report._assessment_io import (
    assessment_digest,
    load_assessment,
    write_assessment_json,
)

from .assessment_fixtures import MODEL_DIGEST, ZH_CLAUSE_TEXT, ZH_TITLE, assessment, requirement


def _independent_digest(data: object) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_raw(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "assessment.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_round_trip_keeps_every_field_and_the_digest(tmp_path: Path) -> None:
    original = assessment()
    path = tmp_path / "out" / "assessment.json"
    write_assessment_json(original, path)
    loaded = load_assessment(path)
    assert loaded == original
    assert assessment_digest(loaded) == assessment_digest(original)


def test_file_uses_the_schema_key_and_readable_utf8(tmp_path: Path) -> None:
    path = tmp_path / "assessment.json"
    write_assessment_json(assessment(), path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["schema"] == ASSESSMENT_SCHEMA
    assert "schema_" not in data
    assert ZH_TITLE in text
    assert ZH_CLAUSE_TEXT in text
    assert text.endswith("\n")


def test_digest_is_sha256_of_canonical_json() -> None:
    a = assessment()
    digest = assessment_digest(a)
    assert digest == _independent_digest(a.model_dump(mode="json", by_alias=True))
    assert len(digest) == len("sha256:") + 64


def test_digest_ignores_key_order_but_not_content() -> None:
    a = assessment()
    reordered = assessment(model=dict(reversed(list(a.model.items()))))
    assert assessment_digest(reordered) == assessment_digest(a)
    changed = a.model_copy(update={"verdict": "pass"})
    assert assessment_digest(changed) != assessment_digest(a)
    other_model = assessment(model={**a.model, "digest": MODEL_DIGEST.replace("ab", "ba")})
    assert assessment_digest(other_model) != assessment_digest(a)


def test_digest_of_reloaded_file_equals_digest_of_file_content(tmp_path: Path) -> None:
    path = tmp_path / "assessment.json"
    a = assessment()
    write_assessment_json(a, path)
    assert _independent_digest(json.loads(path.read_text("utf-8"))) == assessment_digest(a)


def test_overwrite_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "assessment.json"
    write_assessment_json(assessment(assessment_id="first"), path)
    write_assessment_json(assessment(assessment_id="second"), path)
    assert load_assessment(path).assessment_id == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["assessment.json"]


def test_non_finite_numbers_are_refused_not_written(tmp_path: Path) -> None:
    bad = assessment(
        requirements=[requirement("r1", "5.1", "fail", estimate=float("nan"), ci_low=None)]
    )
    path = tmp_path / "assessment.json"
    with pytest.raises(LlmcertError, match=r"requirements\[0\]\.estimate"):
        write_assessment_json(bad, path)
    assert not path.exists()
    with pytest.raises(LlmcertError, match="finite"):
        assessment_digest(bad)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(SpecError, match="cannot read") as info:
        load_assessment(path)
    assert info.value.path == path


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "assessment.json"
    path.write_text('{\n  "schema": "llmcert.assessment/1",\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(SpecError, match="not valid JSON") as info:
        load_assessment(path)
    assert info.value.path == path
    assert info.value.line == 3
    assert str(path) in str(info.value)


def test_nan_in_file_is_rejected(tmp_path: Path) -> None:
    data = assessment().model_dump(mode="json", by_alias=True)
    text = json.dumps(data).replace('"estimate": 0.7', '"estimate": NaN', 1)
    assert "NaN" in text
    path = tmp_path / "assessment.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError, match="NaN"):
        load_assessment(path)


def test_not_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "assessment.json"
    path.write_bytes(b'{"schema": "\xff\xfe"}')
    with pytest.raises(SpecError, match="UTF-8"):
        load_assessment(path)


def test_json_that_is_not_an_object_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="expected a JSON object, got list"):
        load_assessment(_write_raw(tmp_path, [1, 2]))


@pytest.mark.parametrize(
    ("schema", "shown"),
    [("llmcert.assessment/0", "'llmcert.assessment/0'"), (None, "no schema")],
)
def test_wrong_or_missing_schema_is_named(tmp_path: Path, schema: str | None, shown: str) -> None:
    data = assessment().model_dump(mode="json", by_alias=True)
    if schema is None:
        del data["schema"]
    else:
        data["schema"] = schema
    with pytest.raises(SpecError) as info:
        load_assessment(_write_raw(tmp_path, data))
    assert info.value.field == "schema"
    assert shown in str(info.value)
    assert ASSESSMENT_SCHEMA in str(info.value)


def test_validation_error_names_the_field(tmp_path: Path) -> None:
    data = assessment().model_dump(mode="json", by_alias=True)
    data["requirements"][1]["verdict"] = "maybe"
    with pytest.raises(SpecError, match="not a valid assessment") as info:
        load_assessment(_write_raw(tmp_path, data))
    assert info.value.field == "requirements.1.verdict"


def test_unknown_fields_are_refused(tmp_path: Path) -> None:
    data = assessment().model_dump(mode="json", by_alias=True)
    data["signature"] = "trust me"
    with pytest.raises(SpecError) as info:
        load_assessment(_write_raw(tmp_path, data))
    assert info.value.field == "signature"
