"""What can be known about a model from its files, without loading any weights.

Sources, each optional: GGUF key/value metadata and tensor table (``gguf``),
safetensors JSON headers, a Hugging Face ``config.json`` and the YAML front
matter of a ``README.md`` model card. Every fact records nothing it cannot
read; unknown stays ``None``, never a guess.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmcert.supplychain._digest_walk import ArtefactError

_GGUF_MAGIC = b"GGUF"
_SAFETENSORS_HEADER_MAX = 100 * 1024 * 1024
_CARD_MAX = 1024 * 1024
_PIPELINE_TAGS = frozenset(
    {
        "text-generation",
        "text2text-generation",
        "fill-mask",
        "feature-extraction",
        "sentence-similarity",
        "image-text-to-text",
        "translation",
        "summarization",
    }
)
_TRANSFORMER_ARCHS = (
    "llama",
    "gemma",
    "qwen",
    "mistral",
    "mixtral",
    "phi",
    "gpt",
    "falcon",
    "bert",
    "t5",
    "starcoder",
    "olmo",
    "deepseek",
    "smollm",
    "mamba",
    "rwkv",
    "bloom",
    "opt",
    "stablelm",
)


@dataclass
class ModelFacts:
    """Facts about one model, merged from every source found."""

    name: str | None = None
    version: str | None = None
    organization: str | None = None
    formats: set[str] = field(default_factory=set)
    architecture: str | None = None
    parameter_count: int | None = None
    size_label: str | None = None
    quantisation: str | None = None
    tensor_types: Counter[str] = field(default_factory=Counter)
    licence: str | None = None
    datasets: list[str] = field(default_factory=list)
    base_models: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    task: str | None = None
    context_length: int | None = None
    has_chat_template: bool | None = None
    description: str | None = None

    def set_once(self, **values: Any) -> None:
        """Fill fields still unknown; the first source read wins."""
        for key, value in values.items():
            if value not in (None, "", []) and getattr(self, key) in (None, "", []):
                setattr(self, key, value)

    @property
    def architecture_family(self) -> str | None:
        if self.architecture is None:
            return None
        arch = self.architecture.lower()
        return "transformer" if any(a in arch for a in _TRANSFORMER_ARCHS) else None


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str | int | float)]
    return []


def _gguf_value(reader: Any, key: str) -> Any:
    f = reader.fields.get(key)
    if f is None:
        return None
    try:
        return f.contents()
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def read_gguf(path: Path, facts: ModelFacts) -> None:
    """GGUF metadata and tensor table; the weights stay on disk (memory-mapped, never read)."""
    try:
        from gguf import GGUFReader, LlamaFileType
    except ImportError as exc:  # pragma: no cover - install hint
        raise ArtefactError(
            f"reading GGUF metadata needs the gguf package ({exc}): pip install gguf"
        ) from exc
    try:
        reader = GGUFReader(str(path))
    except (ValueError, struct.error, OSError) as exc:
        raise ArtefactError(f"cannot read GGUF metadata: {exc}", path=path) from exc

    def g(key: str) -> Any:
        return _gguf_value(reader, key)

    arch = g("general.architecture")
    file_type = g("general.file_type")
    quant = None
    if isinstance(file_type, int):
        try:
            quant = LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            quant = f"file_type {file_type}"
    datasets = _str_list(g("general.datasets"))
    n_sets = g("general.dataset.count")
    for i in range(n_sets if isinstance(n_sets, int) else 0):
        datasets += _str_list(g(f"general.dataset.{i}.name") or g(f"general.dataset.{i}.repo_url"))
    bases = []
    n_bases = g("general.base_model.count")
    for i in range(n_bases if isinstance(n_bases, int) else 0):
        bases += _str_list(
            g(f"general.base_model.{i}.repo_url") or g(f"general.base_model.{i}.name")
        )
    facts.formats.add("gguf")
    facts.set_once(
        name=g("general.name"),
        version=g("general.version"),
        organization=g("general.organization"),
        architecture=arch,
        size_label=g("general.size_label"),
        quantisation=quant,
        licence=g("general.license"),
        datasets=datasets,
        base_models=bases,
        languages=_str_list(g("general.languages")),
        tags=_str_list(g("general.tags")),
        context_length=g(f"{arch}.context_length") if arch else None,
        description=g("general.description"),
    )
    facts.has_chat_template = "tokenizer.chat_template" in reader.fields
    n_params = 0
    for tensor in reader.tensors:
        n_params += int(tensor.n_elements)
        facts.tensor_types[tensor.tensor_type.name] += 1
    facts.parameter_count = (facts.parameter_count or 0) + n_params


def read_safetensors(path: Path, facts: ModelFacts) -> None:
    """Parse only the length-prefixed JSON header (dtype and shape of each tensor)."""
    with path.open("rb") as fh:
        raw_len = fh.read(8)
        if len(raw_len) < 8:
            raise ArtefactError("truncated safetensors header", path=path)
        (n,) = struct.unpack("<Q", raw_len)
        if n > _SAFETENSORS_HEADER_MAX:
            raise ArtefactError(f"safetensors header of {n} bytes is implausibly large", path=path)
        try:
            header = json.loads(fh.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtefactError(f"safetensors header is not JSON: {exc}", path=path) from exc
    if not isinstance(header, dict):
        raise ArtefactError("safetensors header is not a JSON object", path=path)
    facts.formats.add("safetensors")
    meta = header.pop("__metadata__", None)
    if isinstance(meta, dict):
        facts.set_once(name=meta.get("name"), licence=meta.get("license"))
    count = 0
    for spec in header.values():
        if isinstance(spec, dict) and isinstance(spec.get("shape"), list):
            n_el = 1
            for dim in spec["shape"]:
                n_el *= int(dim)
            count += n_el
            facts.tensor_types[str(spec.get("dtype", "?"))] += 1
    facts.parameter_count = (facts.parameter_count or 0) + count


def read_hf_config(path: Path, facts: ModelFacts) -> None:
    try:
        cfg = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, OSError) as exc:
        raise ArtefactError(f"config.json is not readable JSON: {exc}", path=path) from exc
    if not isinstance(cfg, dict):
        return
    archs = _str_list(cfg.get("architectures"))
    quant_cfg = cfg.get("quantization_config")
    quant = quant_cfg.get("quant_method") if isinstance(quant_cfg, dict) else None
    facts.set_once(
        architecture=archs[0] if archs else cfg.get("model_type"),
        quantisation=quant,
        context_length=cfg.get("max_position_embeddings"),
    )


def read_model_card(path: Path, facts: ModelFacts) -> None:
    """The YAML front matter of a Hugging Face README (safe loader; never executes tags)."""
    text = path.read_bytes()[:_CARD_MAX].decode("utf-8", errors="replace")
    if not text.startswith("---"):
        return
    end = text.find("\n---", 3)
    if end < 0:
        return
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError as exc:
        raise ArtefactError(f"model card front matter is not valid YAML: {exc}", path=path) from exc
    if not isinstance(meta, dict):
        return
    licence = meta.get("license")
    if licence == "other" and meta.get("license_name"):
        licence = meta["license_name"]
    facts.set_once(
        name=meta.get("model_name"),
        licence=licence if isinstance(licence, str) else None,
        datasets=_str_list(meta.get("datasets")),
        base_models=_str_list(meta.get("base_model")),
        languages=_str_list(meta.get("language")),
        tags=_str_list(meta.get("tags")),
        task=meta.get("pipeline_tag"),
    )


def sniff(path: Path) -> str | None:
    """File type from the first bytes, never from the extension."""
    with path.open("rb") as fh:
        head = fh.read(9)
    if head.startswith(_GGUF_MAGIC):
        return "gguf"
    if len(head) == 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] > 1:
        return "safetensors"
    return None


def collect_facts(root: Path, files: list[str]) -> ModelFacts:
    """Read every source found among ``files`` (relative paths under ``root``, or the file itself)."""
    facts = ModelFacts()
    base = root if root.is_dir() else root.parent
    for rel in files:
        path = base / rel
        name = Path(rel).name.lower()
        if name == "config.json" and root.is_dir():
            read_hf_config(path, facts)
        elif name == "readme.md" and root.is_dir():
            read_model_card(path, facts)
    for rel in files:
        path = base / rel
        kind = sniff(path)
        if kind == "gguf":
            read_gguf(path, facts)
        elif kind == "safetensors":
            read_safetensors(path, facts)
    if facts.task is None:  # a Hugging Face pipeline tag among the declared tags says the task
        facts.task = next((t for t in facts.tags if t in _PIPELINE_TAGS), None)
    return facts
