"""ONNX models: external-data paths and operator domains, read from the protobuf wire format.

An ONNX file is a ``ModelProto`` with no magic number. Nothing here builds the
model: a small streaming walk over the wire format (field numbers from
``onnx.proto``) seeks over tensor payloads and descends only into what matters.
An initializer whose external data lives at an absolute path or climbs out of
the model directory makes the runtime read any file on the host; a node in a
domain outside ONNX's own needs a custom operator library, native code loaded
with the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Final

from llmcert.supplychain.scan._findings import FindingSink

ENGINE = "onnx-protobuf"
#: Operator domains served by ONNX itself and ONNX Runtime's built-in kernels.
STANDARD_DOMAINS: Final = frozenset(
    {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training",
     "com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental"}
)  # fmt: skip
MAX_DEPTH: Final = 32
MAX_FIELDS: Final = 5_000_000

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
# ModelProto / GraphProto / NodeProto / AttributeProto / TensorProto / FunctionProto fields.
_MODEL_GRAPH, _MODEL_OPSET, _MODEL_FUNCTIONS = 7, 8, 25
_GRAPH_NODE, _GRAPH_INIT, _GRAPH_SPARSE = 1, 5, 15
_NODE_OP, _NODE_ATTR, _NODE_DOMAIN = 4, 5, 7
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_TENSOR_NAME, _TENSOR_EXTERNAL, _TENSOR_LOCATION = 8, 13, 14
_FUNC_NAME, _FUNC_NODE, _FUNC_DOMAIN = 1, 7, 10
_WINDOWS_DRIVE: Final = re.compile(r"^[A-Za-z]:")


class _Bad(ValueError):
    pass


class _Wire:
    """Seekable reads of protobuf fields inside ``[start, end)`` of a file."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.fields = 0

    def varint(self) -> int:
        shift = result = 0
        while True:
            byte = self.fh.read(1)
            if not byte:
                raise _Bad("truncated varint")
            result |= (byte[0] & 0x7F) << shift
            if not byte[0] & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise _Bad("varint longer than 10 bytes")

    def walk(self, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """Yield ``(field, wire_type, value_or_offset, length)`` and leave payloads unread."""
        pos = start
        while pos < end:
            self.fields += 1
            if self.fields > MAX_FIELDS:
                raise _Bad(f"more than {MAX_FIELDS} protobuf fields")
            self.fh.seek(pos)
            key = self.varint()
            number, wire = key >> 3, key & 7
            if number == 0:
                raise _Bad(f"field number 0 at offset {pos}")
            if wire == _VARINT:
                value, length = self.varint(), 0
            elif wire in (_I64, _I32):
                value, length = self.fh.tell(), 8 if wire == _I64 else 4
            elif wire == _LEN:
                length = self.varint()
                value = self.fh.tell()
            else:
                raise _Bad(f"wire type {wire} at offset {pos}")
            pos = (self.fh.tell() if wire == _VARINT else value) + length
            if pos > end:
                raise _Bad(f"field {number} runs past its message at offset {value}")
            yield number, wire, value, length

    def text(self, offset: int, length: int) -> str:
        self.fh.seek(offset)
        return self.fh.read(min(length, 4096)).decode("utf-8", "replace")


def is_onnx(fh: IO[bytes], size: int) -> bool:
    """A ``ModelProto``: ``ir_version`` first, every top-level field well formed, a graph."""
    fh.seek(0)
    if fh.read(1) != b"\x08":
        return False
    wire = _Wire(fh)
    seen: set[int] = set()
    try:
        for number, kind, _, _ in wire.walk(0, size):
            seen.add(number)
            if number == _MODEL_GRAPH and kind != _LEN:
                return False
    except _Bad:
        return False
    return _MODEL_GRAPH in seen


@dataclass
class _Model:
    domains: dict[str, str] = field(default_factory=dict)
    """Custom domain -> where it is used."""
    functions: set[tuple[str, str]] = field(default_factory=set)
    external: list[tuple[str, str]] = field(default_factory=list)
    """(tensor name, location) of external data."""


def scan_onnx(fh: IO[bytes], size: int, sink: FindingSink, *, member: str | None = None) -> None:
    wire, model = _Wire(fh), _Model()
    try:
        for number, kind, offset, length in wire.walk(0, size):
            if kind != _LEN:
                continue
            if number == _MODEL_GRAPH:
                _graph(wire, offset, offset + length, model, 0)
            elif number == _MODEL_OPSET:
                for sub, sub_kind, sub_off, sub_len in wire.walk(offset, offset + length):
                    if sub == 1 and sub_kind == _LEN:
                        _domain(model, wire.text(sub_off, sub_len), "opset_import")
            elif number == _MODEL_FUNCTIONS:
                _function(wire, offset, offset + length, model)
    except _Bad as exc:
        sink.add("LLMC-ONNX-003", str(exc), engine=ENGINE, member=member)
        return
    for name, location in model.external:
        if _escapes(location):
            sink.add(
                "LLMC-ONNX-001",
                f"tensor {name!r} reads external data from {location!r}",
                engine=ENGINE,
                member=member,
            )
    local = {domain for domain, _ in model.functions}
    for domain, where in sorted(model.domains.items()):
        if domain not in local:
            sink.add(
                "LLMC-ONNX-002",
                f"operator domain {domain!r} ({where}) needs a custom operator library",
                engine=ENGINE,
                member=member,
            )


def _escapes(location: str) -> bool:
    parts = location.replace("\\", "/").split("/")
    return (
        location.startswith(("/", "\\", "~"))
        or bool(_WINDOWS_DRIVE.match(location))
        or ".." in parts
        or "\x00" in location
    )


def _domain(model: _Model, domain: str, where: str) -> None:
    if domain not in STANDARD_DOMAINS:
        model.domains.setdefault(domain, where)


def _graph(wire: _Wire, start: int, end: int, model: _Model, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Bad(f"graphs nest more than {MAX_DEPTH} deep")
    for number, kind, offset, length in list(wire.walk(start, end)):
        if kind != _LEN:
            continue
        if number == _GRAPH_NODE:
            _node(wire, offset, offset + length, model, depth)
        elif number == _GRAPH_INIT:
            _tensor(wire, offset, offset + length, model)
        elif number == _GRAPH_SPARSE:
            for sub, sub_kind, sub_off, sub_len in list(wire.walk(offset, offset + length)):
                if sub in (1, 2) and sub_kind == _LEN:
                    _tensor(wire, sub_off, sub_off + sub_len, model)


def _node(wire: _Wire, start: int, end: int, model: _Model, depth: int) -> None:
    op, domain = "", ""
    for number, kind, offset, length in list(wire.walk(start, end)):
        if kind != _LEN:
            continue
        if number == _NODE_OP:
            op = wire.text(offset, length)
        elif number == _NODE_DOMAIN:
            domain = wire.text(offset, length)
        elif number == _NODE_ATTR:
            _attribute(wire, offset, offset + length, model, depth)
    if domain not in STANDARD_DOMAINS and (domain, op) not in model.functions:
        _domain(model, domain, f"node {op!r}")


def _attribute(wire: _Wire, start: int, end: int, model: _Model, depth: int) -> None:
    for number, kind, offset, length in list(wire.walk(start, end)):
        if kind != _LEN:
            continue
        if number in (_ATTR_G, _ATTR_GRAPHS):
            _graph(wire, offset, offset + length, model, depth + 1)
        elif number in (_ATTR_T, _ATTR_TENSORS):
            _tensor(wire, offset, offset + length, model)
        elif number in (_ATTR_SPARSE, _ATTR_SPARSES):
            for sub, sub_kind, sub_off, sub_len in list(wire.walk(offset, offset + length)):
                if sub in (1, 2) and sub_kind == _LEN:
                    _tensor(wire, sub_off, sub_off + sub_len, model)


def _tensor(wire: _Wire, start: int, end: int, model: _Model) -> None:
    name = ""
    for number, kind, offset, length in list(wire.walk(start, end)):
        if number == _TENSOR_NAME and kind == _LEN:
            name = wire.text(offset, length)
        elif number == _TENSOR_EXTERNAL and kind == _LEN:
            key = value = ""
            for sub, sub_kind, sub_off, sub_len in list(wire.walk(offset, offset + length)):
                if sub_kind == _LEN and sub == 1:
                    key = wire.text(sub_off, sub_len)
                elif sub_kind == _LEN and sub == 2:
                    value = wire.text(sub_off, sub_len)
            if key == "location":
                model.external.append((name, value))


def _function(wire: _Wire, start: int, end: int, model: _Model) -> None:
    name = domain = ""
    nodes: list[tuple[int, int]] = []
    for number, kind, offset, length in list(wire.walk(start, end)):
        if kind != _LEN:
            continue
        if number == _FUNC_NAME:
            name = wire.text(offset, length)
        elif number == _FUNC_DOMAIN:
            domain = wire.text(offset, length)
        elif number == _FUNC_NODE:
            nodes.append((offset, offset + length))
    model.functions.add((domain, name))
    for begin, stop in nodes:
        _node(wire, begin, stop, model, 0)
