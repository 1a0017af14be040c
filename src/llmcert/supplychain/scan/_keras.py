"""Keras models: the architecture config, where ``Lambda`` layers carry Python code.

A Keras v3 ``.keras`` file is a zip with ``config.json``; a Keras 2 HDF5 file
keeps the same JSON in the root attribute ``model_config``. A ``Lambda`` layer
stores its function as marshalled bytecode (run on load outside safe mode), and
any object whose ``module`` lies outside Keras makes the loader import that
module and call what it finds there. The HDF5 file is not opened with a
library: the JSON attribute is found in the raw bytes and parsed by itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any, Final

from llmcert.supplychain.scan._findings import FindingSink, Severity
from llmcert.supplychain.scan._pickle_judge import allowlist

ENGINE = "keras-config"
KERAS_MODULES: Final = (
    "keras", "keras_hub", "keras_nlp", "keras_cv", "tf_keras", "tensorflow.keras",
    "tensorflow.python.keras",
)  # fmt: skip
#: The largest config read from an HDF5 file, and how many candidates are parsed.
MAX_CONFIG: Final = 16 << 20
MAX_CANDIDATES: Final = 8
_CHUNK: Final = 8 << 20
_CONFIG_START: Final = re.compile(rb'\{\s*"(?:class_name|module)"\s*:')
_CODE_KEYS: Final = ("function_type", "output_shape_type")


def scan_keras_config(text: str, sink: FindingSink, *, member: str | None = None) -> bool:
    """Judge one architecture config; False when it is not JSON."""
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        return False
    seen: set[str] = set()
    for evidence, critical in _judge(config):
        if evidence in seen:
            continue
        seen.add(evidence)
        sink.add(
            "LLMC-KERAS-001",
            evidence,
            engine=ENGINE,
            member=member,
            severity=Severity.CRITICAL if critical else Severity.HIGH,
        )
    return True


def _judge(config: Any) -> Iterator[tuple[str, bool]]:
    danger = allowlist()
    for node in _dicts(config):
        name = node.get("class_name")
        if name == "Lambda":
            yield "Lambda layer: its function is Python code run when the model loads", True
        if name == "__lambda__" or any(node.get(k) == "lambda" for k in _CODE_KEYS):
            yield "marshalled Python bytecode in the config", True
        module = node.get("module")
        if isinstance(module, str) and module and not module.startswith(KERAS_MODULES):
            critical = danger.dangerous(module, str(name or ""))
            yield f"object {name!r} from module {module!r}: the loader imports it", critical
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            package = registered.split(">", 1)[0]
            if not package.startswith(KERAS_MODULES):
                yield f"custom object {registered!r} registered outside Keras", False


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def scan_keras_h5(fh: IO[bytes], size: int, sink: FindingSink, *, member: str | None = None) -> int:
    """Judge the JSON configs stored as HDF5 attributes (a linear search); returns how many."""
    found = 0
    decoder = json.JSONDecoder()
    offset = 0
    while offset < size and found < MAX_CANDIDATES:
        fh.seek(offset)
        chunk = fh.read(_CHUNK + 4096)
        for match in _CONFIG_START.finditer(chunk):
            if match.start() >= _CHUNK or found >= MAX_CANDIDATES:
                break
            fh.seek(offset + match.start())
            raw = fh.read(MAX_CONFIG).decode("utf-8", "replace")
            try:
                _, end = decoder.raw_decode(raw)
            except (ValueError, RecursionError):
                continue
            found += 1
            scan_keras_config(raw[:end], sink, member=member)
        offset += _CHUNK
    return found
