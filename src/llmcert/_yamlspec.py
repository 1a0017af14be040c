"""Load a YAML spec into a pydantic model, with errors naming file, line and field.

Shared by suites and standards: the YAML is composed into a node tree first so
that a validation error's location (``prompt.template``) can be mapped back to
the line the user has to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from llmcert.errors import SpecError

M = TypeVar("M", bound=BaseModel)

# The C loader is much faster; fall back where libyaml is absent.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at ``loc``, or of its nearest existing parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == key:
                    node = v
                    line = k.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return line
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _describe(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "invalid value"))
    if err.get("type") == "extra_forbidden":
        return "unknown field (check the spelling)"
    if err.get("type") == "missing":
        return "required field is missing"
    return msg


def load_yaml_spec(path: Path, model: type[M]) -> M:
    """Parse and validate ``path``; raise :class:`SpecError` on the first problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError("file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read: {exc}", path=path) from exc
    return parse_yaml_spec(text, model, path=path)


def parse_yaml_spec(text: str, model: type[M], *, path: Path | None = None) -> M:
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise SpecError(f"not valid YAML: {exc.problem}", path=path, line=line) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}", path=path) from exc
    if not isinstance(data, dict):
        raise SpecError("expected a mapping at the top level", path=path, line=1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        field = ".".join(str(p) for p in loc) or None
        raise SpecError(
            _describe(dict(first)), path=path, line=_line_of(node, loc), field=field
        ) from exc
