"""Check a GGUF file's structure and read its metadata without loading weights.

Our own bounded walk over the header, key/value pairs and tensor table checks
what a hostile file could bend (counts, lengths, tensor offsets, alignment,
bytes no tensor accounts for). ``gguf.GGUFReader`` — the reference reader — is
then run as a cross-check when the metadata is small (it holds an object per
field, which costs seconds and gigabytes on a million-entry array); if it refuses
the file, that is a finding too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from llmcert.supplychain.scan._findings import FindingSink

ENGINE = "gguf-structure"
READER = "gguf.GGUFReader"
MAX_COUNT: Final = 1 << 20
MAX_DIMS: Final = 8
MAX_KEPT_STRING: Final = 1 << 20
DEFAULT_ALIGNMENT: Final = 32
#: The reference reader builds an object per field: run it only on metadata up to this size.
MAX_CROSS_CHECK: Final = 1 << 20
_U64: Final = struct.Struct("<Q")

# value type -> struct format of scalars; 8 = string, 9 = array
_SCALARS: Final = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9


@dataclass
class GgufInfo:
    version: int = 0
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)
    """Scalar and string values (arrays are left out)."""
    templates: dict[str, str] = field(default_factory=dict)
    tensors: int = 0


class _Bad(Exception):
    pass


class _Reader:
    """Buffered, bounded reads: memory stays at one window whatever the metadata holds."""

    WINDOW: Final = 1 << 20

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self.fh, self.size = fh, size
        self.pos = 0
        self._buf = b""
        self._buf_at = 0
        fh.seek(0)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise _Bad(f"read of {n} bytes at offset {self.pos} runs past the end of the file")
        lo = self.pos - self._buf_at
        if lo + n > len(self._buf):
            self.fh.seek(self.pos)
            self._buf, self._buf_at, lo = self.fh.read(max(n, self.WINDOW)), self.pos, 0
        self.pos += n
        return self._buf[lo : lo + n]

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Bad(f"skip of {n} bytes at offset {self.pos} runs past the end of the file")
        self.pos += n

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def u64(self) -> int:
        value: int = _U64.unpack(self.take(8))[0]
        return value

    def string(self, keep: bool = True) -> str:
        length = self.u64()
        if not keep or length > MAX_KEPT_STRING:
            self.skip(length)
            return ""
        return self.take(length).decode("utf-8", "replace")


def scan_gguf(
    fh: IO[bytes], size: int, sink: FindingSink, *, member: str | None = None
) -> GgufInfo:
    info = GgufInfo()
    try:
        tensors, data_start, alignment = _walk(_Reader(fh, size), info)
    except _Bad as exc:
        sink.add("LLMC-GGUF-001", str(exc), engine=ENGINE, member=member)
        return info
    _check_tensors(tensors, data_start, alignment, size, sink)
    path = getattr(fh, "name", None)
    if member is None and isinstance(path, str) and data_start <= MAX_CROSS_CHECK:
        _cross_check(Path(path), info, sink)
    return info


def _walk(r: _Reader, info: GgufInfo) -> tuple[list[tuple[str, int, int, list[int]]], int, int]:
    if r.take(4) != b"GGUF":
        raise _Bad("missing GGUF magic")
    info.version = r.unpack("<I")
    if info.version not in (2, 3):
        raise _Bad(f"unsupported GGUF version {info.version}")
    n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
    if n_tensors > MAX_COUNT or n_kv > MAX_COUNT:
        raise _Bad(f"implausible counts: {n_tensors} tensors, {n_kv} metadata keys")
    info.tensors = n_tensors
    keys: set[str] = set()
    for _ in range(n_kv):
        key = r.string()
        if key in keys:
            raise _Bad(f"duplicate metadata key {key[:80]!r}")
        keys.add(key)
        vtype = r.unpack("<I")
        value = _value(r, vtype, keep=key.startswith(("general.", "tokenizer.chat_template")))
        if value is not None:
            info.metadata[key] = value
            if key.startswith("tokenizer.chat_template") and isinstance(value, str):
                info.templates[key] = value
    alignment = info.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Bad(f"general.alignment {alignment!r} is not a power of two")
    tensors = []
    names: set[str] = set()
    for _ in range(n_tensors):
        name = r.string()
        if name in names:
            raise _Bad(f"duplicate tensor name {name[:80]!r}")
        names.add(name)
        n_dims = r.unpack("<I")
        if n_dims > MAX_DIMS:
            raise _Bad(f"tensor {name[:80]!r} has {n_dims} dimensions")
        dims = [r.unpack("<Q") for _ in range(n_dims)]
        ggml_type, offset = r.unpack("<I"), r.unpack("<Q")
        tensors.append((name, ggml_type, offset, dims))
    data_start = r.pos + (-r.pos % alignment)
    return tensors, data_start, alignment


def _value(r: _Reader, vtype: int, *, keep: bool) -> str | int | float | bool | None:
    if vtype in _SCALARS:
        value: str | int | float | bool = r.unpack(_SCALARS[vtype])
        return value if keep else None
    if vtype == _STRING:
        text = r.string(keep)
        return text if keep else None
    if vtype == _ARRAY:
        item_type, count = r.unpack("<I"), r.unpack("<Q")
        if item_type in _SCALARS:
            r.skip(count * struct.calcsize(_SCALARS[item_type]))
        elif item_type == _STRING:
            if count > r.size:
                raise _Bad(f"array of {count} strings cannot fit in the file")
            for _ in range(count):
                r.skip(r.u64())
        else:
            raise _Bad(f"array of unsupported type {item_type} at offset {r.pos}")
        return None
    raise _Bad(f"unknown metadata value type {vtype} at offset {r.pos}")


def _check_tensors(
    tensors: list[tuple[str, int, int, list[int]]],
    data_start: int,
    alignment: int,
    size: int,
    sink: FindingSink,
) -> None:
    try:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    except ImportError:
        sink.add("LLMC-FMT-002", "gguf package missing: tensor sizes not checked", engine=ENGINE)
        return
    spans: list[tuple[int, int, str]] = []
    for name, ggml_type, offset, dims in tensors:
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
        except (ValueError, KeyError):
            sink.add(
                "LLMC-GGUF-001", f"tensor {name[:80]!r}: unknown type {ggml_type}", engine=ENGINE
            )
            continue
        elements = 1
        for dim in dims:
            elements *= dim
        if elements % block:
            sink.add(
                "LLMC-GGUF-002",
                f"tensor {name[:80]!r}: {elements} elements not a multiple of block {block}",
                engine=ENGINE,
            )
            continue
        start, length = data_start + offset, elements // block * type_size
        if offset % alignment:
            sink.add(
                "LLMC-GGUF-002",
                f"tensor {name[:80]!r}: offset {offset} not aligned to {alignment}",
                engine=ENGINE,
                offset=start,
            )
        if start + length > size:
            sink.add(
                "LLMC-GGUF-002",
                f"tensor {name[:80]!r}: data [{start}, {start + length}) beyond file end {size}",
                engine=ENGINE,
                offset=start,
            )
            continue
        spans.append((start, start + length, name))
    cursor, previous = data_start, ""
    for start, end, name in sorted(spans):
        if start < cursor:
            sink.add(
                "LLMC-GGUF-002",
                f"tensor {name[:80]!r} overlaps {previous[:80]!r}",
                engine=ENGINE,
                offset=start,
            )
        elif start - cursor >= alignment:
            sink.add(
                "LLMC-GGUF-003",
                f"{start - cursor} unused bytes before tensor {name[:80]!r}",
                engine=ENGINE,
                offset=cursor,
            )
        if end > cursor:
            cursor, previous = end, name
    if size - cursor >= alignment:
        sink.add(
            "LLMC-GGUF-003",
            f"{size - cursor} bytes after the last tensor",
            engine=ENGINE,
            offset=cursor,
        )


def _cross_check(path: Path, info: GgufInfo, sink: FindingSink) -> None:
    """The reference reader must accept the file and agree on metadata we rely on."""
    try:
        from gguf import GGUFReader
    except ImportError:
        sink.add("LLMC-FMT-002", "gguf package missing: reference reader not run", engine=READER)
        return
    try:
        reader = GGUFReader(path)
        theirs = {
            key: reader.fields[key].contents() for key in info.templates if key in reader.fields
        }
        if len(reader.tensors) != info.tensors:
            sink.add(
                "LLMC-GGUF-001",
                f"reference reader sees {len(reader.tensors)} tensors, structure says {info.tensors}",
                engine=READER,
            )
    except Exception as exc:  # the reader's failure on a hostile file is the finding
        sink.add(
            "LLMC-GGUF-001",
            f"reference reader refused the file: {type(exc).__name__}: {exc}",
            engine=READER,
        )
        return
    for key, text in info.templates.items():
        if theirs.get(key) != text:
            sink.add("LLMC-GGUF-001", f"readers disagree on {key}", engine=READER)
