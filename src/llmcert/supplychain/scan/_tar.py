"""Tar archives (legacy ``torch.save`` checkpoints) and compressed streams (joblib).

A legacy tar checkpoint holds ``sys_info`` and ``pickle`` (pickles) and
``storages``/``tensors``, where pickles alternate with raw records; those are
walked record by record as ``torch.serialization.legacy_load`` reads them, so
every pickle in them is judged. A compressed stream (zlib, gzip, bz2, xz/lzma,
lz4: what ``joblib.load`` detects) is decompressed within a bound and its
content dispatched again. What cannot be read to the end blocks.
"""

from __future__ import annotations

import struct
import tarfile
import tempfile
from collections.abc import Iterator
from typing import IO, Any, Final

from llmcert.supplychain.scan import _formats as fmt
from llmcert.supplychain.scan._findings import FindingSink, Severity
from llmcert.supplychain.scan._pickle_judge import PickleVerdict, judge_pickle

ENGINE = "archive"
MAX_MEMBERS: Final = 100_000
#: A decompressed stream larger than this is not scanned (and blocks).
MAX_DECOMPRESSED: Final = 2 << 30
#: Decompressed content spills from memory to a temporary file above this.
SPOOL_BYTES: Final = 64 << 20
STEP: Final = 16 << 20
MAX_RECORDS: Final = 1_000_000
TORCH_TAR, JOBLIB = "pytorch-legacy-tar", "compressed-pickle"
LEGACY_TAR_PICKLES: Final = frozenset({"sys_info", "pickle"})
LEGACY_TAR_RECORDS: Final = frozenset({"storages", "tensors"})
#: Bytes per element of the storage classes a legacy checkpoint names.
ELEMENT_SIZE: Final = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1,
    "ByteStorage": 1, "BoolStorage": 1, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16,
    "QInt8Storage": 1, "QUInt8Storage": 1, "QInt32Storage": 4,
}  # fmt: skip


class _Unreadable(ValueError):
    pass


def _where(outer: str | None, name: str) -> str:
    return "/".join(p for p in (outer, name) if p)


def scan_tar(
    fh: IO[bytes], size: int, sink: FindingSink, *, member: str | None = None, depth: int = 0
) -> tuple[str, list[PickleVerdict]]:
    from llmcert.supplychain.scan._dispatch import scan_stream

    verdicts: list[PickleVerdict] = []
    fh.seek(0)
    try:
        tf = tarfile.open(fileobj=fh, mode="r:")  # noqa: SIM115 - closed below
    except (tarfile.TarError, OSError, ValueError) as exc:
        sink.add("LLMC-ZIP-001", f"tar cannot be read: {exc}", engine=ENGINE, member=member)
        return fmt.TAR, verdicts
    with tf:
        names: set[str] = set()
        for count, info in enumerate(tf):
            if count >= MAX_MEMBERS:
                sink.add("LLMC-ZIP-001", f"more than {MAX_MEMBERS} members", engine=ENGINE,
                         member=member)  # fmt: skip
                break
            names.add(info.name)
            where = _where(member, info.name)
            if not info.isfile():
                if info.issym() or info.islnk() or info.isdev():
                    sink.add("LLMC-ZIP-001", f"link or device member {info.name!r}",
                             engine=ENGINE, member=where, severity=Severity.MEDIUM)  # fmt: skip
                continue
            data = tf.extractfile(info)
            if data is None:
                continue
            with data:
                if info.name in LEGACY_TAR_RECORDS:
                    try:
                        verdicts.extend(_legacy_records(data, info.size, sink, where, info.name))
                    except _Unreadable as exc:
                        sink.add("LLMC-FMT-002", f"{info.name}: {exc}", engine=ENGINE,
                                 member=where, severity=Severity.HIGH)  # fmt: skip
                    continue
                result = scan_stream(
                    data, info.size, sink, member=where, depth=depth + 1,
                    force_pickle=info.name in LEGACY_TAR_PICKLES,
                )  # fmt: skip
                verdicts.extend(result.verdicts)
    is_torch = names >= LEGACY_TAR_PICKLES | LEGACY_TAR_RECORDS
    return (TORCH_TAR if is_torch else fmt.TAR), verdicts


def _legacy_records(
    fh: IO[bytes], size: int, sink: FindingSink, where: str, name: str
) -> list[PickleVerdict]:
    """``storages``: count, then (key, location, type) + raw data per storage, then views.
    ``tensors``: count, then (key, storage id, type) + ndim, sizes, strides, offset per tensor.
    """
    verdicts: list[PickleVerdict] = []
    offset = 0
    for _ in range(MAX_RECORDS):
        if offset >= size:
            return verdicts
        verdict = judge_pickle(fh, sink, start=offset, end=size, member=where, expected_streams=1)
        verdicts.append(verdict)
        if verdict.streams != 1:
            raise _Unreadable(f"record at {offset} is not a complete pickle")
        offset = verdict.end
        if not verdict.imports and len(verdicts) > 1 and name == "storages":
            continue  # the storage views list that ends the member
        if len(verdicts) == 1:
            continue  # the record count
        fh.seek(offset)
        if name == "storages":
            storage = verdict.imports[-1].split("@")[0].rsplit(".", 1)[-1]
            if storage not in ELEMENT_SIZE:
                raise _Unreadable(f"storage type {storage!r} has no known element size")
            (numel,) = struct.unpack("<q", _exact(fh, 8))
            offset += 8 + numel * ELEMENT_SIZE[storage]
        else:
            (ndim,) = struct.unpack("<i", _exact(fh, 4))
            if not 0 <= ndim <= 64:
                raise _Unreadable(f"tensor record with {ndim} dimensions")
            offset += 8 + 16 * ndim + 8
        if offset > size:
            raise _Unreadable(f"record data runs past the end of the member ({offset} > {size})")
    raise _Unreadable(f"more than {MAX_RECORDS} records")


def _exact(fh: IO[bytes], n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise _Unreadable("record header cut short")
    return data


def scan_compressed(
    fh: IO[bytes], size: int, sink: FindingSink, *, member: str | None = None, depth: int = 0
) -> tuple[str, list[PickleVerdict]]:
    """Decompress (bounded) and dispatch the content, as ``joblib.load`` would read it."""
    from llmcert.supplychain.scan._dispatch import scan_stream

    fh.seek(0)
    head = fh.read(fmt.HEAD_BYTES)
    codec = fmt.compression_of(head)
    if codec is None:
        return fmt.UNKNOWN, []
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
        try:
            total = _decompress(fh, codec, out)
        except ImportError:
            sink.add("LLMC-FMT-002", f"{codec} stream: decompressor not installed", engine=ENGINE,
                     member=member, severity=Severity.HIGH)  # fmt: skip
            return JOBLIB, []
        except _Unreadable as exc:
            sink.add("LLMC-FMT-002", f"{codec} stream: {exc}", engine=ENGINE, member=member,
                     severity=Severity.HIGH)  # fmt: skip
            return JOBLIB, []
        out.seek(0)
        inner = _where(member, f"<{codec}>")
        result = scan_stream(out, total, sink, member=inner, depth=depth + 1)
    return (JOBLIB if result.format == fmt.PICKLE else fmt.COMPRESSED), result.verdicts


def _decompress(fh: IO[bytes], codec: str, out: IO[bytes]) -> int:
    """Stream ``fh`` through the codec in bounded steps (a bomb never lands in memory whole)."""
    engine: Any = fmt.decompressor(codec)
    fh.seek(2 + 19 if codec == "zlib-zf" else 0)
    total = 0
    try:
        while not getattr(engine, "eof", False):
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            for piece in _pieces(engine, chunk):
                total += len(piece)
                if total > MAX_DECOMPRESSED:
                    raise _Unreadable(f"decompresses past {MAX_DECOMPRESSED} bytes")
                out.write(piece)
    except _Unreadable:
        raise
    except Exception as exc:  # every codec has its own error type for corrupt input
        raise _Unreadable(f"corrupt stream: {type(exc).__name__}: {exc}") from exc
    return total


def _pieces(engine: Any, chunk: bytes) -> Iterator[bytes]:
    if hasattr(engine, "unconsumed_tail"):  # zlib
        yield engine.decompress(chunk, STEP)
        while engine.unconsumed_tail:
            yield engine.decompress(engine.unconsumed_tail, STEP)
        return
    yield engine.decompress(chunk, STEP)
    while not engine.needs_input and not engine.eof:
        yield engine.decompress(b"", STEP)
