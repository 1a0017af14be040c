"""Two readings of one zip: Python's ``zipfile`` and miniz's (PyTorch's reader).

Both find the end-of-central-directory record from the end of the file, but
they then disagree on where the central directory is: ``zipfile`` assumes it
ends right before that record (and shifts every offset by the difference, to
accept prepended data), while miniz reads it at the offset the record declares.
A file with two central directories shows each reader a different archive, so a
scanner that reads only one of them judges an archive the loader never sees.
Here both views are built from the bytes; the caller scans their union and
raises a critical finding when they differ.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Final

EOCD_SIG: Final = b"PK\x05\x06"
EOCD_SIZE: Final = 22
ZIP64_LOCATOR_SIG: Final = b"PK\x06\x07"
ZIP64_EOCD_SIG: Final = b"PK\x06\x06"
CDIR_SIG: Final = b"PK\x01\x02"
LOCAL_SIG: Final = b"PK\x03\x04"
MAX_COMMENT: Final = 0xFFFF
MAX_ENTRIES: Final = 100_000
#: Members read through our own extraction (seen by miniz only) are held in memory up to this.
MAX_OWN_EXTRACT: Final = 256 << 20


class ZipViewError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Entry:
    """One central-directory entry, with an absolute local-header offset."""

    header_offset: int
    name: str
    compress_size: int
    file_size: int
    method: int
    crc: int


def find_eocd(fh: IO[bytes]) -> int | None:
    """Offset of the last end-of-central-directory signature with room for a record (miniz)."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    start = max(0, size - MAX_COMMENT - EOCD_SIZE)
    fh.seek(start)
    tail = fh.read(size - start)
    at = tail.rfind(EOCD_SIG, 0, max(0, len(tail) - EOCD_SIZE + 4))
    return None if at < 0 else start + at


def miniz_view(fh: IO[bytes]) -> list[Entry]:
    """The entries miniz (``mz_zip_reader_init``) sees: the declared central directory."""
    eocd = find_eocd(fh)
    if eocd is None:
        raise ZipViewError("no end-of-central-directory record")
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    fh.seek(eocd)
    record = fh.read(EOCD_SIZE)
    _, disk, cd_disk, _, entries, cd_size, cd_offset, _ = struct.unpack("<4sHHHHIIH", record)
    if disk or cd_disk:
        raise ZipViewError("multi-disk archives are not supported by miniz")
    if eocd >= 20:
        fh.seek(eocd - 20)
        locator = fh.read(20)
        if locator[:4] == ZIP64_LOCATOR_SIG:
            (z64_offset,) = struct.unpack("<Q", locator[8:16])
            fh.seek(z64_offset)
            z64 = fh.read(56)
            if z64[:4] != ZIP64_EOCD_SIG or len(z64) < 56:
                raise ZipViewError("zip64 locator points at no zip64 record")
            entries, cd_size, cd_offset = struct.unpack("<QQQ", z64[32:56])
    if entries > MAX_ENTRIES:
        raise ZipViewError(f"{entries} entries exceed the limit {MAX_ENTRIES}")
    if cd_offset + cd_size > size:
        raise ZipViewError("central directory runs past the end of the file")
    fh.seek(cd_offset)
    directory = fh.read(cd_size)
    return _parse_directory(directory, entries)


def _parse_directory(directory: bytes, count: int) -> list[Entry]:
    out: list[Entry] = []
    pos = 0
    for _ in range(count):
        if directory[pos : pos + 4] != CDIR_SIG or pos + 46 > len(directory):
            raise ZipViewError(f"central directory entry {len(out)} is malformed")
        (flags, method, crc, csize, usize, n_name, n_extra, n_comment) = struct.unpack(
            "<HHxxxxIIIHHH", directory[pos + 8 : pos + 34]
        )
        (offset,) = struct.unpack("<I", directory[pos + 42 : pos + 46])
        raw_name = directory[pos + 46 : pos + 46 + n_name]
        extra = directory[pos + 46 + n_name : pos + 46 + n_name + n_extra]
        csize, usize, offset = _zip64_extra(extra, csize, usize, offset)
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        out.append(Entry(offset, name, csize, usize, method, crc))
        pos += 46 + n_name + n_extra + n_comment
    return out


def _zip64_extra(extra: bytes, csize: int, usize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[pos : pos + 4])
        if tag == 1:
            values = list(
                struct.unpack(f"<{length // 8}Q", extra[pos + 4 : pos + 4 + length // 8 * 8])
            )
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            if offset == 0xFFFFFFFF and values:
                offset = values.pop(0)
        pos += 4 + length
    return csize, usize, offset


def zipfile_view(zf: zipfile.ZipFile) -> list[Entry]:
    return [
        Entry(i.header_offset, i.filename, i.compress_size, i.file_size, i.compress_type, i.CRC)
        for i in zf.infolist()
    ]


def differences(python: list[Entry], miniz: list[Entry]) -> list[str]:
    """What one reader sees that the other does not (by name, offset, size and CRC)."""
    ours, theirs = set(python), set(miniz)
    out = [f"only zipfile sees {e.name!r} at {e.header_offset}" for e in sorted(ours - theirs)]
    out += [f"only miniz sees {e.name!r} at {e.header_offset}" for e in sorted(theirs - ours)]
    for label, view in (("zipfile", python), ("miniz", miniz)):
        names = [e.name for e in view]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            out.append(
                f"{label} sees duplicate member names {dupes[:5]} (readers pick differently)"
            )
    return out


def read_entry(fh: IO[bytes], entry: Entry) -> bytes:
    """The member's bytes from its local header, as miniz extracts it (stored or deflate)."""
    if entry.file_size > MAX_OWN_EXTRACT or entry.compress_size > MAX_OWN_EXTRACT:
        raise ZipViewError(f"member of {entry.file_size} bytes is too large to extract")
    fh.seek(entry.header_offset)
    local = fh.read(30)
    if local[:4] != LOCAL_SIG or len(local) < 30:
        raise ZipViewError(f"no local header at {entry.header_offset}")
    n_name, n_extra = struct.unpack("<HH", local[26:30])
    fh.seek(entry.header_offset + 30 + n_name + n_extra)
    data = fh.read(entry.compress_size)
    if entry.method == 0:
        return data
    if entry.method == 8:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        out = inflater.decompress(data, MAX_OWN_EXTRACT + 1)
        if len(out) > MAX_OWN_EXTRACT:
            raise ZipViewError("member inflates past the extraction limit")
        return out
    raise ZipViewError(f"compression method {entry.method} is not read by miniz")
