"""HTTP/1.1 for the load generator: asyncio protocols with llhttp's parser (httptools).

A load generator's client is part of the measuring instrument, so it is kept lean and
times data where it first becomes visible. Over plain HTTP that is the kernel's receive
stamp (``llmcert._rxstamp``): when the bytes reached the client's socket, so the
client's own wake-up on a busy machine never shows as the server's latency. Over TLS,
or where the kernel gives no stamp, ``data_received`` stamps the clock as the socket
read returns, before any parsing. The reader gets both ends of each read (when its
oldest and its newest bytes arrived) and times the events in it from them. A
general-purpose client (aiohttp) gives the bytes to a coroutine only after its own
buffering and a task switch, which at 200 requests per second on two cores added
milliseconds at p99 to every TTFT it measured. Connections are kept alive and reused;
one that failed, was cancelled or was told to close is never reused.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

import httptools

from llmcert._rxstamp import AVAILABLE as RXSTAMP_AVAILABLE
from llmcert._rxstamp import StampedTransport, open_stamped, stamping_keeper

#: Reads ``(data, first, last)`` as they arrive: the bytes of one read, when its oldest
#: and its newest bytes reached the socket (one time without kernel stamps); returns an
#: error message to stop the exchange.
OnBody = Callable[[bytes, float, float], "str | None"]


@dataclass(slots=True)
class Response:
    """What came back: status, headers (lower-case names), and how the exchange ended."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    #: The body of a response that was not streamed to ``on_body`` (errors, non-SSE).
    body: bytes = b""
    complete: bool = False
    #: Why the exchange stopped early: a connection failure, a parser error, or the
    #: message ``on_body`` returned.
    failure: str | None = None
    #: True when the failure came from ``on_body`` (the stream's content, not the network).
    stopped_by_reader: bool = False
    #: Seconds the first streamed bytes waited in the kernel before the client read them
    #: (None when that read carried no kernel stamp, and was timed at the read itself):
    #: the client's wake-up, left out of its timings.
    first_read_wait: float | None = None


class _Exchange(asyncio.Protocol):
    """One connection; serves one request at a time."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.usable = False
        self._done: asyncio.Future[Response] | None = None
        self._resp = Response()
        self._on_body: OnBody | None = None
        self._stream = False
        self._wants_stream: Callable[[Response], bool] = lambda _r: False
        self._pieces: list[bytes] = []
        self._first = self._now = 0.0
        self._wait: float | None = None
        self._delivered = False
        self._stamped: StampedTransport | None = None

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        if isinstance(transport, StampedTransport) and transport.kernel_stamps:
            self._stamped = transport
        self.usable = True

    @property
    def kernel_stamps(self) -> bool:
        return self._stamped is not None

    def data_received(self, data: bytes) -> None:
        stamped = self._stamped
        if stamped is not None:
            self._first, self._now = stamped.rx_first, stamped.rx_time
            self._wait = stamped.rx_wait if stamped.rx_stamped else None
        else:
            self._first = self._now = self._clock()
        if self._done is None:  # bytes nobody asked for: the connection is not reusable
            self._close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish(f"malformed HTTP response: {exc}")
        self._deliver()

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if self._done is not None and not self._done.done():
            reason = f"{type(exc).__name__}: {exc}" if exc else "the server closed the connection"
            self._finish(f"connection failed: {reason}")

    # -- httptools callbacks -------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._resp.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._resp.status = self._parser.get_status_code()
        self._stream = self._wants_stream(self._resp)

    def on_body(self, body: bytes) -> None:
        if self._stream:
            # A streamed body comes one HTTP chunk (one SSE event) at a time; the pieces of
            # one socket read go to the reader together, once the read is parsed.
            self._pieces.append(body)
        elif len(self._resp.body) < 65536:
            self._resp.body += body

    def _deliver(self) -> None:
        if not self._pieces:
            return
        body = self._pieces[0] if len(self._pieces) == 1 else b"".join(self._pieces)
        self._pieces.clear()
        if self._done is None or self._done.done() or self._on_body is None:
            return
        if not self._delivered:
            self._delivered = True
            self._resp.first_read_wait = self._wait
        outcome = self._on_body(body, self._first, self._now)
        if outcome is not None:
            self._resp.stopped_by_reader = True
            self._finish(outcome)

    def on_message_complete(self) -> None:
        self._deliver()
        self._resp.complete = True
        if not self._parser.should_keep_alive():
            self.usable = False
        self._finish(None)

    # -- one request ---------------------------------------------------------------------

    def request(
        self, raw: bytes, on_body: OnBody, wants_stream: Callable[[Response], bool]
    ) -> asyncio.Future[Response]:
        assert self.transport is not None
        assert self._done is None
        self._resp = Response()
        self._pieces.clear()
        self._delivered = False
        self._on_body, self._wants_stream = on_body, wants_stream
        self._done = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self._done

    def release(self) -> bool:
        """Ready the connection for the next request; False when it must not be reused."""
        done = self._done
        self._done = None
        if done is None or not done.done() or not self._resp.complete or not self.usable:
            self._close()
            return False
        self._parser = httptools.HttpResponseParser(self)
        return True

    def _finish(self, failure: str | None) -> None:
        if failure is not None:
            self._resp.failure = failure
            self._close()
        if self._done is not None and not self._done.done():
            self._done.set_result(self._resp)

    def _close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()


class WireClient:
    """POSTs to one origin over a pool of keep-alive connections."""

    def __init__(self, base_url: str, clock: Callable[[], float]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self._ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None
        )
        netloc = parts.netloc.rsplit("@", 1)[-1]
        self._host_header = netloc
        self._clock = clock
        self._idle: list[_Exchange] = []
        self._stamps: set[bool] = set()
        self._keeper = stamping_keeper() if self._ssl is None and RXSTAMP_AVAILABLE else None

    @property
    def receive_stamp(self) -> str:
        """``kernel`` when every connection so far read with kernel receive stamps, else
        ``read`` (the client's read time, its own wake-up included)."""
        return "kernel" if self._stamps == {True} else "read"

    def head(self, path: str, headers: dict[str, str], length: int) -> bytes:
        lines = [f"POST {self.prefix}{path} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _connect(self) -> _Exchange:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn
        if self._ssl is None and RXSTAMP_AVAILABLE:
            transport = await open_stamped(
                self.host, self.port, lambda: _Exchange(self._clock), self._clock
            )
            proto = cast(_Exchange, transport.get_protocol())
        else:
            loop = asyncio.get_running_loop()
            _, proto = await loop.create_connection(
                lambda: _Exchange(self._clock),
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self.host if self._ssl else None,
            )
        self._stamps.add(proto.kernel_stamps)
        return proto

    async def post(
        self, raw: bytes, on_body: OnBody, wants_stream: Callable[[Response], bool]
    ) -> Response:
        """Send ``raw`` (head and body) and return the response once it ended, failed, or
        ``on_body`` stopped it. Raises ``OSError`` when no connection could be made."""
        conn = await self._connect()
        try:
            resp = await conn.request(raw, on_body, wants_stream)
        finally:
            if conn.release():
                self._idle.append(conn)
        return resp

    def close(self) -> None:
        for conn in self._idle:
            conn.release()
            conn._close()
        self._idle.clear()
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None
