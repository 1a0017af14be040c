"""The built-in standards, and loading a standard by name or by path."""

from __future__ import annotations

from pathlib import Path

from llmcert.errors import SpecError
from llmcert.standards._spec import StandardSpec, load_standard_file

#: Built-in standards by id -> file inside ``llmcert/standards/builtin``. A manifest,
#: so that naming one standard never parses every file.
BUILTIN_STANDARDS: dict[str, str] = {
    "code-generation": "code-generation.yaml",
    "example-capability": "example-capability.yaml",
    "gbt-45654-2025": "gbt-45654-2025.yaml",
    "llmcert-capability": "capability.yaml",
    "llmcert-graded-safety": "graded-safety.yaml",
    "wdta-ai-str-02": "wdta-ai-str-02.yaml",
    "llmcert-inference-system": "inference-system.yaml",
}

_BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


def builtin_standard_path(name: str) -> Path | None:
    rel = BUILTIN_STANDARDS.get(name)
    return None if rel is None else _BUILTIN_DIR / rel


def resolve_standard_path(name_or_path: str | Path) -> Path:
    """A built-in name wins over a file of the same name in the working directory."""
    if isinstance(name_or_path, str):
        builtin = builtin_standard_path(name_or_path)
        if builtin is not None:
            return builtin
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.suffix in (".yaml", ".yml") or path.exists():
        raise SpecError("file not found", path=path)
    known = ", ".join(sorted(BUILTIN_STANDARDS))
    raise SpecError(
        f"no built-in standard {str(name_or_path)!r} and no such file (built-in: {known})"
    )


def load_standard(name_or_path: str | Path) -> StandardSpec:
    """Load a built-in standard by id, or a standard YAML file by path."""
    return load_standard_file(resolve_standard_path(name_or_path))


def builtin_standards() -> list[StandardSpec]:
    """Every built-in standard, in id order."""
    return [load_standard(name) for name in sorted(BUILTIN_STANDARDS)]
