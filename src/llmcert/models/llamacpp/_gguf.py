"""Read a GGUF file's metadata table without loading its weights or llama.cpp.

Identity (architecture, chat template, whether a BOS token is added) and the
decision whether chat is possible are needed before the model is loaded, and
must not require the optional ``llama_cpp`` extension. Only the key/value
section at the start of the file is parsed; arrays (the vocabulary) are skipped.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path

GGUF_MAGIC = b"GGUF"

Scalar = int | float | bool | str

# GGUF value types -> struct format of the fixed-size ones.
_FIXED: dict[int, str] = {
    0: "<B",  # uint8
    1: "<b",  # int8
    2: "<H",  # uint16
    3: "<h",  # int16
    4: "<I",  # uint32
    5: "<i",  # int32
    6: "<f",  # float32
    7: "<?",  # bool
    10: "<Q",  # uint64
    11: "<q",  # int64
    12: "<d",  # float64
}
_STRING = 8
_ARRAY = 9


class GgufFormatError(ValueError):
    """The file is not a GGUF file this reader understands."""


@dataclass(frozen=True)
class GgufMetadata:
    version: int
    tensor_count: int
    values: dict[str, Scalar] = field(default_factory=dict)
    array_lengths: dict[str, int] = field(default_factory=dict)

    def get_str(self, key: str) -> str | None:
        value = self.values.get(key)
        return None if value is None else str(value)

    @property
    def architecture(self) -> str | None:
        return self.get_str("general.architecture")

    @property
    def chat_template(self) -> str | None:
        value = self.values.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None


def has_gguf_magic(path: Path) -> bool:
    """Decide the file type from its first bytes, never from its name."""
    try:
        with path.open("rb") as fh:
            return fh.read(4) == GGUF_MAGIC
    except OSError:
        return False


class _Cursor:
    def __init__(self, buf: mmap.mmap, wide: bool) -> None:
        self.buf = buf
        self.pos = 0
        self.wide = wide  # GGUF v1 used 32-bit lengths and counts

    def unpack(self, fmt: str) -> Scalar:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise GgufFormatError("metadata runs past the end of the file")
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return value  # type: ignore[no-any-return]

    def count(self) -> int:
        return int(self.unpack("<Q" if self.wide else "<I"))

    def string(self) -> str:
        n = self.count()
        if self.pos + n > len(self.buf):
            raise GgufFormatError("string runs past the end of the file")
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.count()
        if self.pos + n > len(self.buf):
            raise GgufFormatError("string runs past the end of the file")
        self.pos += n

    def value(self, vtype: int) -> Scalar:
        if vtype == _STRING:
            return self.string()
        fmt = _FIXED.get(vtype)
        if fmt is None:
            raise GgufFormatError(f"unknown metadata value type {vtype}")
        return self.unpack(fmt)

    def skip_array(self) -> int:
        item_type = int(self.unpack("<I"))
        n = self.count()
        if item_type == _STRING:
            for _ in range(n):
                self.skip_string()
        elif item_type == _ARRAY:
            for _ in range(n):
                self.skip_array()
        else:
            fmt = _FIXED.get(item_type)
            if fmt is None:
                raise GgufFormatError(f"unknown array item type {item_type}")
            end = self.pos + n * struct.calcsize(fmt)
            if end > len(self.buf):
                raise GgufFormatError("array runs past the end of the file")
            self.pos = end
        return n


def read_gguf_metadata(path: Path) -> GgufMetadata:
    """Parse the key/value table of a little-endian GGUF file (versions 1 to 3)."""
    with path.open("rb") as fh:
        try:
            buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError as exc:  # empty file
            raise GgufFormatError("file is empty") from exc
    with buf:
        if buf[:4] != GGUF_MAGIC:
            raise GgufFormatError("missing GGUF magic bytes")
        cur = _Cursor(buf, wide=True)
        cur.pos = 4
        version = int(cur.unpack("<I"))
        if version not in (1, 2, 3):
            raise GgufFormatError(
                f"unsupported GGUF version {version} (big-endian files unsupported)"
            )
        cur.wide = version >= 2
        tensor_count = cur.count()
        kv_count = cur.count()
        values: dict[str, Scalar] = {}
        arrays: dict[str, int] = {}
        for _ in range(kv_count):
            key = cur.string()
            vtype = int(cur.unpack("<I"))
            if vtype == _ARRAY:
                arrays[key] = cur.skip_array()
            else:
                values[key] = cur.value(vtype)
    return GgufMetadata(version, tensor_count, values, arrays)
