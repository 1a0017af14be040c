"""Fetch upstream dataset files into a local cache, pinned and checksummed.

Importers always parse a local directory. When the user has no local copy, the
files named by an importer are downloaded from their public home at a pinned
commit, checked against a known sha256 and only then renamed into place, so a
crash or a tampered mirror can never leave a half-written or foreign file that a
later run would trust.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llmcert._fileio import write_atomic
from llmcert.errors import SpecError

if TYPE_CHECKING:
    import httpx

#: Downloads a URL and returns its bytes; raises :class:`FetchError` (or an
#: ``httpx.HTTPError`` / ``OSError``) when it cannot.
Fetch = Callable[[str], bytes]

DEFAULT_TIMEOUT = 30.0
MAX_BYTES = 64 * 1024 * 1024  # the largest upstream file here is under 1 MB


class FetchError(Exception):
    """A download failed; the message says why in one line."""


@dataclass(frozen=True)
class RemoteFile:
    """One upstream file: where it lives locally (``rel``) and where to get it."""

    rel: str
    url: str
    sha256: str


class HttpFetcher:
    """The default :data:`Fetch`: one bounded GET through httpx.

    ``transport`` exists so tests can serve files from memory
    (``httpx.MockTransport``) without touching the network.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.timeout = timeout
        self.transport = transport
        self.max_bytes = max_bytes

    def __call__(self, url: str) -> bytes:
        import httpx  # only needed when downloading; keeps start-up light

        try:
            with (
                httpx.Client(
                    timeout=self.timeout, transport=self.transport, follow_redirects=True
                ) as client,
                client.stream("GET", url) as resp,
            ):
                if resp.status_code != 200:
                    raise FetchError(f"HTTP {resp.status_code}")
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise FetchError(f"larger than {self.max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from exc


def cache_root() -> Path:
    """``$LLMCERT_CACHE_DIR/datasets``, else ``~/.cache/llmcert/datasets``."""
    base = os.environ.get("LLMCERT_CACHE_DIR")
    root = Path(base) if base else Path.home() / ".cache" / "llmcert"
    return root / "datasets"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_ok(path: Path, sha256: str) -> bool:
    try:
        return _sha256(path.read_bytes()) == sha256
    except OSError:
        return False


def ensure_files(
    dataset: str, files: Iterable[RemoteFile], dest: Path, fetch: Fetch | None = None
) -> Path:
    """Make every file present and verified under ``dest``; return ``dest``.

    A cached file is reused only if its checksum still matches.
    """
    get = fetch if fetch is not None else HttpFetcher()
    for rf in files:
        target = dest / rf.rel
        if _file_ok(target, rf.sha256):
            continue
        hint = f"pass a local copy of the {dataset} files with --data PATH"
        try:
            data = get(rf.url)
        except (FetchError, OSError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise SpecError(
                f"cannot download {rf.url} ({reason}); {hint}", field="items.importer"
            ) from exc
        got = _sha256(data)
        if got != rf.sha256:
            raise SpecError(
                f"download of {rf.url} has sha256 {got}, expected {rf.sha256}; {hint}",
                field="items.importer",
            )
        try:
            write_atomic(target, data)
        except OSError as exc:
            raise SpecError(f"cannot write the dataset cache: {exc}", path=target) from exc
    return dest
