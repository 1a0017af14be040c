"""The little HTTP/1.1 the fake server needs: parse a request head, encode a response.

Hand-rolled on purpose: the server shares a 2-core machine with the client it serves in the
throughput benchmark, so every request must cost close to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcert.testing._stream import StreamPlan

MAX_BODY = 32 * 1024 * 1024
MAX_HEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class RequestHead:
    method: str
    path: str
    version: str
    headers: dict[str, str]

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.1":
            return "close" not in conn
        return "keep-alive" in conn


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False
    #: Set for a streamed (SSE) answer: ``body`` is then unused.
    stream: StreamPlan | None = None


def parse_head(raw: bytes) -> RequestHead | None:
    """Parse the request line and headers; ``None`` means "answer 400 and hang up"."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return None
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        headers[name.lower()] = value.strip()
    path = target.split("?", 1)[0]
    return RequestHead(method, path, version, headers)


_REASONS: dict[int, str] = {s.value: s.phrase for s in HTTPStatus}


def encode(reply: Reply, keep_alive: bool) -> bytes:
    reason = _REASONS.get(reply.status, "Unknown")
    lines = [
        f"HTTP/1.1 {reply.status} {reason}",
        "content-type: application/json",
        f"content-length: {len(reply.body)}",
        "connection: keep-alive" if keep_alive else "connection: close",
    ]
    lines.extend(f"{name}: {value}" for name, value in reply.headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body
