"""One request's timeline, in seconds from the start of its run.

Every latency is taken from the request's *scheduled* arrival, so time the client
spent before sending (its own queueing) counts as latency; the gap between the
schedule and the send is kept apart as ``lag`` so a reader can see it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Status = Literal["ok", "error", "timeout", "truncated"]
TokenSource = Literal["usage", "tokenizer", "chunks"]


@dataclass(slots=True)
class RequestTrace:
    """What happened to one request.

    ``status``: ``ok`` (complete stream), ``error`` (HTTP error, connection failure,
    malformed stream), ``timeout`` (the deadline passed), ``truncated`` (the stream
    ended without its final event). ``token_times`` holds the arrival of every chunk
    that carried text. ``output_tokens`` comes from ``token_source``: the server's
    usage report, llmcert's tokenizer for the model, or (last resort) the chunk count.
    """

    index: int
    scheduled: float
    max_tokens: int
    min_tokens: int = 0
    sent: float | None = None
    token_times: list[float] = field(default_factory=list)
    end: float | None = None
    status: Status = "error"
    error: str | None = None
    http_status: int | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    token_source: TokenSource = "chunks"
    #: The server's own stamps, when it gives them (the fake server does), on the same
    #: monotonic clock as the run: when the request arrived and when its first token left.
    server_arrived: float | None = None
    server_first_token: float | None = None
    #: How the server stamped the arrival: ``kernel`` (when the request reached its
    #: socket) or ``read`` (when it read it, its own wake-up included).
    server_arrival_stamp: str | None = None
    #: Seconds the first streamed bytes waited in the client's kernel before it read
    #: them (None where the kernel gives no receive stamp). Token times are the kernel's
    #: stamps, so this wait is not in them; it is kept to show the client's wake-up.
    first_read_wait: float | None = None

    @property
    def lag(self) -> float | None:
        """Seconds between the scheduled arrival and the send."""
        return None if self.sent is None else self.sent - self.scheduled

    @property
    def ttft(self) -> float | None:
        if self.status != "ok" or not self.token_times:
            return None
        return self.token_times[0] - self.scheduled

    @property
    def e2e(self) -> float | None:
        if self.status != "ok" or self.end is None:
            return None
        return self.end - self.scheduled

    @property
    def tpot(self) -> float | None:
        """Mean time per output token after the first (undefined below two tokens)."""
        n = self.output_tokens if self.output_tokens is not None else len(self.token_times)
        if self.status != "ok" or n < 2 or len(self.token_times) < 1:
            return None
        return (self.token_times[-1] - self.token_times[0]) / (n - 1)

    @property
    def itl(self) -> list[float]:
        """Every gap between consecutive text chunks."""
        if self.status != "ok":
            return []
        t = self.token_times
        return [b - a for a, b in itertools.pairwise(t)]

    @property
    def short(self) -> bool:
        """Shorter than the length floor (speed must not come from truncation)."""
        n = self.output_tokens if self.output_tokens is not None else len(self.token_times)
        return n < self.min_tokens

    @property
    def server_ttft(self) -> float | None:
        """The server's own time from the request's arrival to its first token."""
        if self.server_arrived is None or self.server_first_token is None:
            return None
        return self.server_first_token - self.server_arrived

    def to_dict(self) -> dict[str, Any]:
        # Called on the event loop for every finished request (the journal): every field
        # but the token times is a scalar, so no deep copy (``asdict`` took 77 µs of a
        # 64-token trace, this under a third of it).
        out = {name: getattr(self, name) for name in _FIELDS}
        out["token_times"] = [round(t, 6) for t in self.token_times]
        return out


_FIELDS = tuple(f.name for f in fields(RequestTrace))


def receive_stamp(traces: list[RequestTrace]) -> str | None:
    """How the client timed token arrivals over these traces: ``kernel`` (the kernel's
    receive stamp, every read), ``read`` (the client's read time), ``mixed``, or None
    when no request got a streamed answer."""
    kinds = {t.first_read_wait is not None for t in traces if t.token_times}
    if not kinds:
        return None
    return "mixed" if len(kinds) == 2 else ("kernel" if True in kinds else "read")
