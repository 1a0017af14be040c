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
MAX_ATTEMPTS: Final = 200_000
MAX_REREADS: Final = 256
_CHUNK: Final = 8 << 20
_OBJECT_START: Final = re.compile(rb'\{\s*"')
_DECODER: Final = json.JSONDecoder()
_CODE_KEYS: Final = ("function_type", "output_shape_type")


def scan_keras_config(text: str, sink: FindingSink, *, member: str | None = None) -> bool:
    """Judge one architecture config; False when it is not JSON."""
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        return False
    judge_keras_config(config, sink, member=member)
    return True


def judge_keras_config(config: Any, sink: FindingSink, *, member: str | None = None) -> None:
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
            # the loader imports the module and calls what it names: code on load, like a pickle
            known = " (a known code-execution module)" if danger.dangerous(module, "") else ""
            yield f"object {name!r} from module {module!r}{known}: the loader imports it", True
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
    """Judge the JSON configs stored as HDF5 attributes (a linear search); returns how many.

    Every JSON object in the file is a candidate, whatever order its keys come in
    and however its strings are escaped (the loader's ``json.loads`` undoes both);
    one that holds a ``class_name`` anywhere is judged as a Keras config.
    """
    found = attempts = 0
    covered = -1
    budget = [MAX_REREADS]
    offset = 0
    while offset < size and found < MAX_CANDIDATES and attempts < MAX_ATTEMPTS:
        fh.seek(offset)
        chunk = fh.read(_CHUNK + 64)
        for match in _OBJECT_START.finditer(chunk):
            if match.start() >= _CHUNK:
                break
            at = offset + match.start()
            if at < covered:
                continue
            attempts += 1
            parsed = _decode_at(fh, at, budget)
            if parsed is None:
                continue
            value, length = parsed
            covered = at + length  # objects inside it were judged with it
            if any("class_name" in node for node in _dicts(value)):
                found += 1
                judge_keras_config(value, sink, member=member)
            if found >= MAX_CANDIDATES or attempts >= MAX_ATTEMPTS:
                break
        offset += _CHUNK
    if attempts >= MAX_ATTEMPTS and offset < size:
        sink.add(
            "LLMC-FMT-002",
            f"more than {MAX_ATTEMPTS} JSON candidates; searched up to offset {offset}",
            engine=ENGINE,
            member=member,
        )
    return found


def _decode_at(fh: IO[bytes], at: int, budget: list[int]) -> tuple[Any, int] | None:
    """The JSON value starting at ``at`` and its length in bytes, reading more while it runs on.

    ``budget`` counts the larger re-reads left for the whole file.
    """
    want = 1 << 12
    while True:
        fh.seek(at)
        raw = fh.read(want)
        text = raw.decode("utf-8", "replace")
        try:
            value, end = _DECODER.raw_decode(text)
        except json.JSONDecodeError as exc:
            # the window was short if the parser ran off its end (or into an open string)
            ran_off = exc.pos >= len(text) - 8 or exc.msg.startswith("Unterminated string")
            cut = len(raw) == want and ran_off
            if not cut or want >= MAX_CONFIG or budget[0] <= 0:
                return None
            budget[0] -= 1
            want *= 4
            continue
        except RecursionError:
            return None
        return value, len(text[:end].encode("utf-8"))
