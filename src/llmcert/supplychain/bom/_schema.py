"""Validation of a BOM against the official CycloneDX 1.6 JSON schema, offline.

``cyclonedx-python-lib`` ships the schema and the SPDX licence and JSF
signature schemas it references; they are loaded from there into a local
``referencing`` registry, so no ``$ref`` is ever fetched over the network.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from llmcert.errors import SupplyChainError

_BASE = "http://cyclonedx.org/schema/"
_MAIN = "bom-1.6.SNAPSHOT.schema.json"
_REFERENCED = ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json")
_INSTALL = "pip install cyclonedx-python-lib jsonschema"


class BomInvalid(SupplyChainError):
    """A BOM does not validate against the CycloneDX 1.6 schema; ``errors`` lists each problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = "; ".join(errors[:5]) + (
            f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        )
        super().__init__(f"BOM does not validate against CycloneDX 1.6: {shown}")


def _schema_text(name: str) -> str:
    try:
        return resources.files("cyclonedx.schema._res").joinpath(name).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise SupplyChainError(
            f"the CycloneDX 1.6 schema ({name}) is not available ({exc}); install: {_INSTALL}"
        ) from exc


@cache
def _validator() -> Any:
    try:
        from jsonschema import Draft7Validator  # type: ignore[import-untyped,unused-ignore]
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT7
    except ImportError as exc:
        raise SupplyChainError(
            f"BOM validation needs jsonschema ({exc}); install: {_INSTALL}"
        ) from exc
    main = json.loads(_schema_text(_MAIN))
    resources_ = [
        (_BASE + name, Resource.from_contents(json.loads(_schema_text(name)), DRAFT7))
        for name in _REFERENCED
    ]
    registry: Registry[Any] = Registry().with_resources(resources_)
    return Draft7Validator(main, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def schema_errors(bom: dict[str, Any]) -> list[str]:
    """Every schema violation in ``bom``, as ``at <json path>: <message>`` lines."""
    errors = sorted(_validator().iter_errors(bom), key=lambda e: list(map(str, e.absolute_path)))
    found = [f"at {e.json_path}: {e.message[:300]}" for e in errors]
    if isinstance(bom, dict) and bom.get("specVersion") != "1.6":  # the schema takes any string
        found.insert(0, f"at $.specVersion: {bom.get('specVersion')!r} is not '1.6'")
    return found


def validate(bom: dict[str, Any]) -> None:
    """Raise :class:`BomInvalid` unless ``bom`` is a valid CycloneDX 1.6 document."""
    errors = schema_errors(bom)
    if errors:
        raise BomInvalid(errors)


@cache
def spdx_ids() -> dict[str, str]:
    """Lower-cased SPDX licence id -> its canonical spelling, from the bundled SPDX schema."""
    enum = json.loads(_schema_text("spdx.SNAPSHOT.schema.json")).get("enum", [])
    return {str(i).lower(): str(i) for i in enum}
