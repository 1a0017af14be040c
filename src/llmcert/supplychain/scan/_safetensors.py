"""Validate a safetensors file from its own header, without trusting any loader.

Layout: 8-byte little-endian header length N, N bytes of JSON, then the data
region. Every tensor's ``data_offsets`` must match its dtype and shape, the
tensors must tile the data region exactly (no gap, no overlap, no trailing
bytes), and the file must not also be readable as another format.
"""

from __future__ import annotations

import contextlib
import gc
import math
import struct
import zipfile
from array import array
from collections.abc import Iterator
from typing import IO, Any, Final

from llmcert.supplychain.scan._findings import FindingSink

ENGINE = "safetensors-header"
#: The reference implementation refuses headers above 100 MB; so do we.
MAX_HEADER: Final = 100_000_000
MAX_RANK: Final = 16
MAX_DIM: Final = 1 << 40

#: Bits per element of each safetensors dtype.
DTYPE_BITS: Final = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "C64": 64,
    "I64": 64, "U64": 64, "F64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip


def scan_safetensors(
    fh: IO[bytes], size: int, sink: FindingSink, *, also_zip: bool = False
) -> dict[str, str]:
    """Check structure; return the ``__metadata__`` strings. ``also_zip``: a zip view exists."""
    with _no_gc():  # a million small dicts would otherwise trigger full collections again and again
        return _scan(fh, size, sink, also_zip=also_zip)


def _scan(fh: IO[bytes], size: int, sink: FindingSink, *, also_zip: bool) -> dict[str, str]:
    fh.seek(0)
    (length,) = struct.unpack("<Q", fh.read(8))
    if also_zip:
        _report_polyglot(fh, sink)
    if length > MAX_HEADER or length > size - 8:
        sink.add(
            "LLMC-ST-001",
            f"header length {length} exceeds the file ({size} bytes) or the limit {MAX_HEADER}",
            engine=ENGINE,
        )
        return {}
    capped = _Capped(sink)
    data_len = size - 8 - length
    metadata: dict[str, str] = {}
    names: list[str] = []
    seen: set[str] = set()
    begins, ends = array("q"), array("q")
    try:
        for name, entry in _entries(fh, length):
            if name in seen:
                sink.add("LLMC-ST-001", f"duplicate header key {name!r}", engine=ENGINE, offset=8)
                return {}
            seen.add(name)
            if name == "__metadata__":
                metadata = _metadata(entry, sink)
                continue
            span = _check_tensor(name, entry, data_len, capped)  # type: ignore[arg-type]
            if span is not None:
                begins.append(span[0])
                ends.append(span[1])
                names.append(name)
    except _NotJson as exc:
        sink.add("LLMC-ST-001", f"header is not a JSON object: {exc}", engine=ENGINE, offset=8)
        return {}
    _check_tiling(begins, ends, names, data_len, capped, data_start=8 + length)  # type: ignore[arg-type]
    capped.close()
    return metadata


class _NotJson(ValueError):
    pass


class _Window:
    """``fh[start:end]`` as a file, so the JSON parser never reads past the header."""

    def __init__(self, fh: IO[bytes], start: int, end: int) -> None:
        self.fh, self.pos, self.end = fh, start, end

    def read(self, n: int = -1) -> bytes:
        n = self.end - self.pos if n < 0 else min(n, self.end - self.pos)
        self.fh.seek(self.pos)
        data = self.fh.read(n)
        self.pos += len(data)
        return data


def _entries(fh: IO[bytes], length: int) -> Iterator[tuple[str, Any]]:
    """The header's top-level pairs, streamed: memory holds one tensor entry at a time."""
    import ijson  # type: ignore[import-untyped]

    fh.seek(8)
    if fh.read(1) != b"{":
        raise _NotJson("does not start with '{'")
    try:
        yield from ijson.kvitems(_Window(fh, 8, 8 + length), "", use_float=True)
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        raise _NotJson(str(exc)[:200]) from exc


class _Capped:
    """Forwards the first findings of a hostile header; counts the rest in one summary."""

    LIMIT: Final = 50

    def __init__(self, sink: FindingSink) -> None:
        self.sink, self.dropped = sink, 0
        self.sent = 0

    def add(self, rule_id: str, evidence: str, **kw: Any) -> None:
        if self.sent < self.LIMIT:
            self.sent += 1
            self.sink.add(rule_id, evidence, **kw)
        else:
            self.dropped += 1

    def close(self) -> None:
        if self.dropped:
            self.sink.add(
                "LLMC-ST-002", f"{self.dropped} further tensor problems not listed", engine=ENGINE
            )


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic collector while building acyclic JSON: its cost grows with the heap."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _metadata(value: Any, sink: FindingSink) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        sink.add("LLMC-ST-001", "__metadata__ must map strings to strings", engine=ENGINE)
        return {}
    return dict(value)


_ENTRY_KEYS: Final = {"dtype", "shape", "data_offsets"}


def _sane_dims(shape: list[Any]) -> bool:
    return all(type(dim) is int and 0 <= dim < MAX_DIM for dim in shape)


def _check_tensor(
    name: str, entry: Any, data_len: int, sink: FindingSink
) -> tuple[int, int, str] | None:
    if not isinstance(entry, dict) or entry.keys() != _ENTRY_KEYS:
        sink.add(
            "LLMC-ST-001",
            f"tensor {name!r}: entry must have dtype, shape, data_offsets",
            engine=ENGINE,
        )
        return None
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_BITS:
        sink.add(
            "LLMC-ST-001", f"tensor {name!r}: unknown dtype {str(dtype)[:20]!r}", engine=ENGINE
        )
        return None
    if not isinstance(shape, list) or len(shape) > MAX_RANK or not _sane_dims(shape):
        sink.add(
            "LLMC-ST-001", f"tensor {name!r}: shape {str(shape)[:60]} is not sane", engine=ENGINE
        )
        return None
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or type(offsets[0]) is not int
        or type(offsets[1]) is not int
        or not 0 <= offsets[0] <= offsets[1]
    ):
        sink.add(
            "LLMC-ST-002", f"tensor {name!r}: bad data_offsets {str(offsets)[:60]}", engine=ENGINE
        )
        return None
    begin, end = offsets
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits % 8 or end - begin != bits // 8:
        sink.add(
            "LLMC-ST-002",
            f"tensor {name!r}: {dtype}{shape} needs {bits / 8:g} bytes, offsets give {end - begin}",
            engine=ENGINE,
        )
    if end > data_len:
        sink.add(
            "LLMC-ST-002",
            f"tensor {name!r}: ends at {end}, data has {data_len} bytes",
            engine=ENGINE,
        )
        return None
    return begin, end, name


def _check_tiling(
    begins: array[int],
    ends: array[int],
    names: list[str],
    data_len: int,
    sink: FindingSink,
    *,
    data_start: int,
) -> None:
    import numpy as np

    order = np.lexsort((np.frombuffer(ends, dtype=np.int64), np.frombuffer(begins, dtype=np.int64)))
    cursor, previous = 0, ""
    for index in order.tolist():
        begin, end, name = begins[index], ends[index], names[index]
        if begin < cursor:
            sink.add(
                "LLMC-ST-002",
                f"tensor {name!r} [{begin}, {end}) overlaps {previous!r} (ends at {cursor})",
                engine=ENGINE,
                offset=data_start + begin,
            )
        elif begin > cursor:
            sink.add(
                "LLMC-ST-002",
                f"{begin - cursor} bytes before tensor {name!r} belong to no tensor",
                engine=ENGINE,
                offset=data_start + cursor,
            )
        if end > cursor:
            cursor, previous = end, name
    if cursor < data_len:
        sink.add(
            "LLMC-ST-002",
            f"{data_len - cursor} trailing bytes after the last tensor",
            engine=ENGINE,
            offset=data_start + cursor,
        )


def _report_polyglot(fh: IO[bytes], sink: FindingSink) -> None:
    """A zip directory (found from the end) lets zip readers see other content."""
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            names = ", ".join(zf.namelist()[:5])
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        names = "directory unreadable by zipfile"
    finally:
        fh.seek(0)
    sink.add("LLMC-ST-003", f"file is also a zip archive ({names})", engine=ENGINE)
