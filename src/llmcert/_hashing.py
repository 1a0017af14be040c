"""Content digests shared by every layer: canonical JSON and streamed files.

Identity in llmcert is by content, so the same bytes must always give the same
digest: JSON is canonicalised (sorted keys, no whitespace, UTF-8) before hashing.
"""

from __future__ import annotations

import hashlib
import json
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


def digest_file(path: Path, *, chunk_size: int = _CHUNK) -> str:
    """Stream a file through sha256 without ever holding it whole in memory."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk_size):
            h.update(block)
    return "sha256:" + h.hexdigest()


def short(digest: str, n: int = 12) -> str:
    """A short, human-friendly prefix of a ``sha256:`` digest."""
    return digest.split(":", 1)[-1][:n]
