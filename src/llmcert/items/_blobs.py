"""Large item payloads kept beside the items, addressed by their digest.

An item's metadata is copied into every unit record of a result, so a payload
of hundreds of kilobytes (HumanEval+'s extended tests) is stored once here and
the item carries only its digest, which still makes it part of the item's hash.
"""

from __future__ import annotations

import os
from pathlib import Path

from llmcert._fileio import write_atomic
from llmcert._hashing import digest_bytes
from llmcert.errors import SpecError


def blob_root() -> Path:
    """``$LLMCERT_CACHE_DIR/blobs``, else ``~/.cache/llmcert/blobs``."""
    base = os.environ.get("LLMCERT_CACHE_DIR")
    return (Path(base) if base else Path.home() / ".cache" / "llmcert") / "blobs"


def put_blob(text: str, root: Path | None = None) -> str:
    """Store ``text`` (once) and return its ``sha256:`` digest."""
    data = text.encode("utf-8")
    digest = digest_bytes(data)
    path = (root or blob_root()) / digest.split(":", 1)[1]
    if not path.is_file():
        write_atomic(path, data)
    return digest


def get_blob(digest: str, root: Path | None = None) -> str:
    """The text stored under ``digest``, checked against it."""
    path = (root or blob_root()) / digest.split(":", 1)[-1]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(
            f"item payload {digest} is missing; load the suite again to restore it", path=path
        ) from exc
    if digest_bytes(data) != digest:
        raise SpecError(f"item payload does not match its digest {digest}", path=path)
    return data.decode("utf-8")
