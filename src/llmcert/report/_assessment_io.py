"""The assessment file: written, read back and digested as exactly one form of data.

A certificate binds :func:`assessment_digest`, so the bytes written by
:func:`write_assessment_json` are generated from the very data that is hashed:
what a verifier reloads digests to the same value. Non-finite numbers have no
JSON form, so they are refused rather than silently turned into ``null``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from llmcert._fileio import write_atomic
from llmcert._hashing import digest_json
from llmcert.errors import LlmcertError, SpecError
from llmcert.report._assessment import ASSESSMENT_SCHEMA, Assessment


def assessment_data(assessment: Assessment) -> dict[str, Any]:
    """The JSON-ready form of an assessment (key ``schema``), checked to be finite."""
    data = assessment.model_dump(mode="json", by_alias=True)
    where = _non_finite(data, "")
    if where is not None:
        raise LlmcertError(
            f"assessment {assessment.assessment_id}: {where or 'a value'} is not a finite "
            "number and has no JSON form"
        )
    return data


def _non_finite(value: Any, where: str) -> str | None:
    """Dotted location of the first NaN or infinity in ``value``, else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else where
    if isinstance(value, dict):
        for key, inner in value.items():
            found = _non_finite(inner, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _non_finite(inner, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def dump_assessment(assessment: Assessment) -> str:
    """Indented UTF-8 JSON text of an assessment, with a final newline."""
    data = assessment_data(assessment)
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def assessment_digest(assessment: Assessment) -> str:
    """``sha256:<hex>`` of the canonical JSON of the assessment: what a certificate binds."""
    return digest_json(assessment_data(assessment))


def write_assessment_json(assessment: Assessment, path: Path) -> None:
    """Write ``assessment`` atomically: readers never see half a file."""
    write_atomic(Path(path), dump_assessment(assessment).encode("utf-8"))


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def load_assessment(path: Path) -> Assessment:
    """Read an assessment written by :func:`write_assessment_json`.

    Every problem is a :class:`~llmcert.errors.SpecError` naming the file (and
    the line or field where known): an assessment is evidence, so an unreadable
    or foreign file must never be half-understood.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read assessment: {exc.strerror or exc}", path=path) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not a valid assessment: not UTF-8 ({exc.reason})", path=path) from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SpecError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    except ValueError as exc:
        raise SpecError(f"not valid JSON: {exc}", path=path) from exc
    if not isinstance(data, dict):
        raise SpecError(
            f"not a valid assessment: expected a JSON object, got {type(data).__name__}",
            path=path,
        )
    schema = data.get("schema")
    if schema != ASSESSMENT_SCHEMA:
        found = "no schema" if schema is None else f"schema {schema!r}"
        raise SpecError(
            f"{found} is not the supported {ASSESSMENT_SCHEMA!r}", path=path, field="schema"
        )
    try:
        return Assessment.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or None
        more = exc.error_count() - 1
        tail = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
        raise SpecError(
            f"not a valid assessment: {first['msg']}{tail}", path=path, field=where
        ) from exc


__all__ = [
    "assessment_data",
    "assessment_digest",
    "dump_assessment",
    "load_assessment",
    "write_assessment_json",
]
