"""Hugging Face side files: configs, tokenizer configs, model cards, templates, Python.

``auto_map`` in a config and ``*.py`` files beside the weights mean loading the
model runs code from the repository (``trust_remote_code``). Chat templates in
tokenizer configs are handed to the template analyser. Model cards give the
declared licence and base model, later compared with weight-file metadata.
"""

from __future__ import annotations

import json
from typing import IO, Any, Final

from llmcert.supplychain.scan._findings import FindingSink
from llmcert.supplychain.scan._keras import scan_keras_config
from llmcert.supplychain.scan._template import TemplateInfo, analyse_template

ENGINE = "hf-files"
MAX_CARD_HEADER: Final = 1 << 20
#: Model-card fields kept as provenance.
CARD_FIELDS: Final = ("license", "license_name", "base_model", "model_name", "language", "datasets")


def scan_json(
    fh: IO[bytes], sink: FindingSink, *, member: str | None = None
) -> tuple[dict[str, str], dict[str, TemplateInfo]]:
    """Remote-code, template and Keras-config checks on a JSON document.

    Returns the declared provenance fields and the templates found.
    """
    fh.seek(0)
    try:
        doc = json.loads(fh.read().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}, {}
    if not isinstance(doc, dict):
        return {}, {}
    auto_map = doc.get("auto_map")
    if auto_map:
        targets = auto_map.values() if isinstance(auto_map, dict) else [auto_map]
        sink.add(
            "LLMC-RC-001",
            f"auto_map -> {', '.join(map(str, targets))}",
            engine=ENGINE,
            member=member,
        )
    if "class_name" in doc or "module" in doc:  # a Keras architecture (``.keras`` config.json)
        fh.seek(0)
        scan_keras_config(fh.read().decode("utf-8", "replace"), sink, member=member)
    templates: dict[str, TemplateInfo] = {}
    for where, source in _chat_templates(doc):
        templates[where] = analyse_template(source, sink, where=where, member=member)
    provenance = {
        key: str(doc[key])
        for key in ("license", "_name_or_path", "model_type")
        if isinstance(doc.get(key), str | int | float)
    }
    return provenance, templates


def _chat_templates(doc: dict[str, Any]) -> list[tuple[str, str]]:
    value = doc.get("chat_template")
    if isinstance(value, str):
        return [("chat_template", value)]
    if isinstance(value, list):  # [{"name": ..., "template": ...}, ...]
        return [
            (f"chat_template[{item.get('name', i)}]", item["template"])
            for i, item in enumerate(value)
            if isinstance(item, dict) and isinstance(item.get("template"), str)
        ]
    return []


def scan_model_card(fh: IO[bytes]) -> dict[str, str]:
    """The YAML front matter of a model card, reduced to provenance fields."""
    import yaml

    fh.seek(0)
    text = fh.read(MAX_CARD_HEADER).decode("utf-8", "replace")
    lines = text.splitlines()
    try:
        end = lines.index("---", 1)
    except ValueError:
        return {}
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError:
        return {}
    if not isinstance(meta, dict):
        return {}
    out: dict[str, str] = {}
    for key in CARD_FIELDS:
        value = meta.get(key)
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        if value is not None:
            out[key] = str(value)
    return out


def scan_template_file(
    fh: IO[bytes], sink: FindingSink, *, member: str | None = None
) -> TemplateInfo:
    fh.seek(0)
    source = fh.read().decode("utf-8", "replace")
    return analyse_template(source, sink, where="template file", member=member)


def flag_python(sink: FindingSink, head: bytes, *, member: str | None = None) -> None:
    first = next((ln for ln in head.decode("utf-8", "replace").splitlines() if ln.strip()), "")
    sink.add(
        "LLMC-RC-002", f"Python source, first line: {first[:80]}", engine=ENGINE, member=member
    )
