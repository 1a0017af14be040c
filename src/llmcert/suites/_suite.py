"""Suite: a validated spec plus its items, with a digest over everything that matters."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from llmcert._hashing import digest_json
from llmcert._yamlspec import load_yaml_spec
from llmcert.errors import SpecError
from llmcert.items import Item, import_dataset, read_item_file
from llmcert.suites._prompt import PromptRenderer
from llmcert.suites._spec import SuiteSpec

#: Built-in suites by name -> file inside ``llmcert/suites/builtin``. A manifest,
#: so that naming a suite never parses every YAML file.
BUILTIN_SUITES: dict[str, str] = {
    "default": "default/suite.yaml",
    "default-completion": "default/completion.yaml",
    "gsm8k": "gsm8k.yaml",
    "gsm8k-completion": "gsm8k-completion.yaml",
    "mgsm-en": "mgsm-en.yaml",
    "mgsm-en-completion": "mgsm-en-completion.yaml",
    "mgsm-zh": "mgsm-zh.yaml",
    "mgsm-zh-completion": "mgsm-zh-completion.yaml",
    "bbh": "bbh.yaml",
    "bbh-completion": "bbh-completion.yaml",
    "truthfulqa-mc1": "truthfulqa-mc1.yaml",
    "truthfulqa-mc1-gen": "truthfulqa-mc1-gen.yaml",
    "safetybench-zh": "safetybench-zh.yaml",
    "truthfulness-bilingual": "truthfulness-bilingual/suite.yaml",
    "gbt45654-should-refuse": "gbt45654-should-refuse/suite.yaml",
    "gbt45654-should-not-refuse": "gbt45654-should-not-refuse/suite.yaml",
    "gbt45654-generated": "gbt45654-generated/suite.yaml",
    "humaneval": "humaneval.yaml",
    "humaneval-completion": "humaneval-completion.yaml",
    "humaneval-plus": "humaneval-plus.yaml",
    "mbpp": "mbpp.yaml",
    "mbpp-plus": "mbpp-plus.yaml",
}

#: Built-in suites with chat prompts and the variant a base model (no chat template) can run.
COMPLETION_VARIANTS: dict[str, str] = {
    "default": "default-completion",
    "gsm8k": "gsm8k-completion",
    "mgsm-en": "mgsm-en-completion",
    "mgsm-zh": "mgsm-zh-completion",
    "bbh": "bbh-completion",
    "truthfulqa-mc1-gen": "truthfulqa-mc1",
}


@dataclass(frozen=True)
class Suite:
    spec: SuiteSpec
    items: tuple[Item, ...]
    item_hashes: tuple[str, ...]
    digest: str
    path: Path | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def renderer(self) -> PromptRenderer:
        return PromptRenderer(self.spec.prompt)

    def describe(self) -> dict[str, object]:
        """Everything a report needs to state the suite's conditions."""
        spec = self.spec.model_dump(mode="json")
        return {
            "name": self.spec.name,
            "version": self.spec.version,
            "digest": self.digest,
            "path": str(self.path) if self.path else None,
            "n_items": len(self.items),
            "prompt": spec["prompt"],
            "generation": spec["generation"],
            "scorer": spec["scorer"],
            "items": spec["items"],
            "repeats": self.spec.repeats,
        }


def suite_digest(spec: SuiteSpec, item_hashes: tuple[str, ...]) -> str:
    """Digest over content, not location: the same items read from elsewhere match."""
    body = spec.model_dump(mode="json", exclude={"items", "description"})
    return digest_json({"spec": body, "items": list(item_hashes)})


def builtin_suite_path(name: str) -> Path | None:
    rel = BUILTIN_SUITES.get(name)
    if rel is None:
        return None
    return Path(str(files("llmcert.suites") / "builtin" / rel))


def resolve_suite_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    builtin = builtin_suite_path(text)
    if builtin is not None:
        return builtin
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise SpecError("suite file not found", path=path)
        return path
    raise SpecError(
        f"unknown suite {text!r}: not a built-in ({', '.join(sorted(BUILTIN_SUITES))}) "
        "and not a path to a .yaml file"
    )


def load_suite(name_or_path: str | Path, *, data: Path | None = None) -> Suite:
    """Load a built-in suite by name, or a suite YAML file by path.

    ``data`` points an importer-based suite at a local copy of its dataset; it
    overrides the suite's own ``items.path``.
    """
    path = resolve_suite_path(name_or_path)
    spec = load_yaml_spec(path, SuiteSpec)
    items = _load_items(spec, path, data)
    if not items:
        raise SpecError("the suite has no items", path=path, field="items")
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise SpecError(f"duplicate item id {dup!r}", path=path, field="items")
    hashes = tuple(it.hash for it in items)
    return Suite(spec, tuple(items), hashes, suite_digest(spec, hashes), path)


def _load_items(spec: SuiteSpec, suite_path: Path, data: Path | None) -> list[Item]:
    base = suite_path.parent
    if spec.items.source is not None:
        return read_item_file(base / spec.items.source, spec.items.fields)
    assert spec.items.importer is not None
    local = data
    if local is None and spec.items.path is not None:
        local = Path(spec.items.path)
        if not local.is_absolute():
            local = base / local
    return import_dataset(spec.items.importer, local, spec.items.options)
