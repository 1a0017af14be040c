"""Content digests shared by every layer: canonical JSON and streamed files.

Identity in llmcert is by content, so the same bytes must always give the same
digest: JSON is canonicalised (sorted keys, no whitespace, UTF-8) before hashing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` so that equal data always gives equal bytes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest_json(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON form of ``value``."""
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()


def digest_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_file(path: Path | str, *, buffer_size: int = _CHUNK) -> str:
    """Stream a file through sha256 without ever holding it whole in memory.

    One reusable buffer, unbuffered reads and a sequential-access hint: as fast as
    ``sha256sum`` or faster (bench/digest_throughput.py). hashlib releases the GIL
    on large updates, so files can be hashed in parallel threads.
    """
    h = hashlib.sha256()
    buf = bytearray(buffer_size)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return "sha256:" + h.hexdigest()


def short(digest: str, n: int = 12) -> str:
    """A short, human-friendly prefix of a ``sha256:`` digest."""
    return digest.split(":", 1)[-1][:n]
