"""A plain-TCP asyncio transport that knows when its bytes reached the socket.

A latency figure taken when a process's read returns includes that process's own
wake-up: on a busy machine the bytes may wait in the kernel for milliseconds before
the reader is scheduled. Linux stamps every received packet (``SO_TIMESTAMPNS``), and
``recvmsg(2)`` hands the stamp over; asyncio's own transports read with ``recv(2)`` and
drop it. This transport reads with ``recvmsg`` and keeps, for each read, when its oldest
and newest bytes reached the socket (``rx_first``, ``rx_time``) and how long the oldest
waited for the reader (``rx_wait``).

A TCP read reports the stamp of the newest segment it consumed; a one-byte peek just
before it reports the oldest's. While segments wait, the kernel may merge a newer one
into an older one, and the merged segment carries the newer stamp: a stamp is when the
newest bytes of its segment arrived, so it can be late by what joined them, never early,
and never later than the read. The stamps are on ``CLOCK_REALTIME``; their ages are
measured on that same clock (now minus stamp) and taken off the caller's clock's now,
so no clock offset enters. Where the kernel gives no stamp (not Linux, or an
architecture whose option number is not known here) both are the read's own time and
the wait is zero; ``kernel_stamps`` says which held.
"""

from __future__ import annotations

import asyncio
import platform
import socket
import struct
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any


def _timestampns_option() -> int | None:
    """``SO_TIMESTAMPNS``: Python's socket module does not name it. Linux gives it the
    number 35 on the architectures of asm-generic/socket.h (x86, Arm, RISC-V, POWER, s390);
    elsewhere (alpha, mips, parisc, sparc) the number differs and stamps are not used."""
    named = getattr(socket, "SO_TIMESTAMPNS", None)
    if named is not None:
        return int(named)
    generic = ("x86_64", "amd64", "i386", "i686", "aarch64", "arm", "riscv", "ppc", "s390")
    if sys.platform == "linux" and platform.machine().lower().startswith(generic):
        return 35
    return None


_SO_TIMESTAMPNS = _timestampns_option()
#: Whether this transport can run here at all: it reads with ``recvmsg`` and waits with
#: ``add_reader``, which Windows' default event loop lacks (callers use asyncio's own).
AVAILABLE = hasattr(socket.socket, "recvmsg") and sys.platform != "win32"
_ANC_SIZE = socket.CMSG_SPACE(16) if _SO_TIMESTAMPNS is not None else 0
#: ``struct timespec``: two longs (64-bit on 64-bit systems, 32-bit on 32-bit ones).
_TIMESPEC = {16: struct.Struct("@qq"), 8: struct.Struct("@ii")}
_READ_SIZE = 256 * 1024
_HIGH_WATER = 64 * 1024
_LOW_WATER = 16 * 1024

Clock = Callable[[], float]
OnConnect = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


def stamping_keeper() -> socket.socket | None:
    """A socket that asks for receive stamps, to hold for a client's life.

    The kernel turns stamping on for the whole host lazily (from a work queue) when the
    first socket asks, and off when the last one closes; bytes that arrive in between
    carry no stamp. Holding one such socket from before the first connection keeps it on.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if not enable_rx_stamps(sock):
        sock.close()
        return None
    return sock


def enable_rx_stamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what ``sock`` receives; False where it cannot."""
    if _SO_TIMESTAMPNS is None:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def _stamp_ns(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """The kernel's receive stamp in a ``recvmsg``'s ancillary data (CLOCK_REALTIME ns)."""
    for level, kind, payload in ancdata:
        timespec = _TIMESPEC.get(len(payload))
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and timespec:
            sec, nsec = timespec.unpack(payload)
            return int(sec * 1_000_000_000 + nsec)
    return None


class StampedTransport(asyncio.Transport):
    """``asyncio.Transport`` over a connected, non-blocking TCP socket (no TLS)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: asyncio.Protocol,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__()
        self._loop, self._sock, self._protocol, self._clock = loop, sock, protocol, clock
        self._fd = sock.fileno()
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        #: Whether the kernel stamps this socket's reads (else they carry the read's time).
        self.kernel_stamps = enable_rx_stamps(sock)
        #: When the oldest and the newest bytes of the latest read reached the socket
        #: (``clock`` time); both are the read's own time where the kernel gave no stamp.
        self.rx_first = 0.0
        self.rx_time = 0.0
        #: How long the oldest had waited there for the reader, in seconds (0 unstamped).
        self.rx_wait = 0.0
        #: Whether the latest read carried the kernel's stamps (data that arrived before
        #: the kernel turned stamping on carries none).
        self.rx_stamped = False
        self._buffer = bytearray()
        self._closing = False
        self._eof = False
        self._reading = False
        self._paused_writing = False
        self._lost = False
        self._extra: dict[str, Any] = {"socket": sock}
        try:
            self._extra["sockname"] = sock.getsockname()
            self._extra["peername"] = sock.getpeername()
        except OSError:
            pass
        loop.call_soon(protocol.connection_made, self)
        loop.call_soon(self.resume_reading)

    # -- reading ---------------------------------------------------------------------------

    def _read_ready(self) -> None:
        first_ns = None
        try:
            if self.kernel_stamps:
                # A read reports its newest segment's stamp; peeking one byte first gives
                # the oldest's: when the first bytes of this read arrived.
                _, ancdata, _flags, _addr = self._sock.recvmsg(1, _ANC_SIZE, socket.MSG_PEEK)
                first_ns = _stamp_ns(ancdata)
            data, ancdata, _flags, _addr = self._sock.recvmsg(_READ_SIZE, _ANC_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._force_close(exc)
            return
        last_ns = _stamp_ns(ancdata) if first_ns is not None else None
        # The real clock first: were this thread descheduled between the two reads, the age
        # would come out short and the stamp late, never long and the stamp early.
        real_ns = time.time_ns()
        now = self._clock()
        self.rx_stamped = first_ns is not None and last_ns is not None
        if first_ns is None or last_ns is None:
            self.rx_first = self.rx_time = now
            self.rx_wait = 0.0
        else:
            # Ages on the stamps' own clock, taken off this clock's now: no offset enters.
            self.rx_wait = max(0.0, (real_ns - first_ns) / 1e9)
            self.rx_first = now - self.rx_wait
            self.rx_time = now - min(self.rx_wait, max(0.0, (real_ns - last_ns) / 1e9))
        if not data:
            self.pause_reading()
            if not self._protocol.eof_received():
                self.close()
            return
        try:
            self._protocol.data_received(data)
        except Exception as exc:  # as asyncio's transports do: the connection cannot go on
            self._force_close(exc)

    def pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._reading and not self._closing:
            self._reading = True
            self._loop.add_reader(self._fd, self._read_ready)

    def is_reading(self) -> bool:
        return self._reading

    # -- writing ---------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._eof or not data:
            return
        if not self._buffer:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._force_close(exc)
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self._loop.add_writer(self._fd, self._write_ready)
        self._buffer += data
        if not self._paused_writing and len(self._buffer) > _HIGH_WATER:
            self._paused_writing = True
            self._protocol.pause_writing()

    def _write_ready(self) -> None:
        try:
            sent = self._sock.send(self._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._force_close(exc)
            return
        del self._buffer[:sent]
        if self._paused_writing and len(self._buffer) <= _LOW_WATER:
            self._paused_writing = False
            self._protocol.resume_writing()
        if not self._buffer:
            self._loop.remove_writer(self._fd)
            if self._closing:
                self._connection_lost(None)
            elif self._eof:
                self._sock.shutdown(socket.SHUT_WR)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self._eof = True
        if not self._buffer:
            self._sock.shutdown(socket.SHUT_WR)

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return _LOW_WATER, _HIGH_WATER

    # -- closing ---------------------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.pause_reading()
        if not self._buffer:
            self._loop.call_soon(self._connection_lost, None)

    def abort(self) -> None:
        self._force_close(None)

    def _force_close(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._closing = True
        self.pause_reading()
        if self._buffer:
            self._buffer.clear()
            self._loop.remove_writer(self._fd)
        self._loop.call_soon(self._connection_lost, exc)

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._sock.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]


async def open_stamped(
    host: str,
    port: int,
    protocol_factory: Callable[[], asyncio.Protocol],
    clock: Clock = time.monotonic,
) -> StampedTransport:
    """Connect to ``host:port`` (each resolved address in turn) over a stamped transport."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    last: OSError = OSError(f"{host!r} did not resolve")
    for family, kind, proto, _name, addr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, addr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:
            sock.close()
            raise
        transport = StampedTransport(loop, sock, protocol_factory(), clock)
        await asyncio.sleep(0)  # let connection_made (scheduled, as asyncio does) run first
        return transport
    raise last


class StampedServer:
    """Accepts on one listening socket; each connection is served as ``asyncio.start_server``
    would (a ``StreamReader``/``StreamWriter`` pair), over a stamped transport."""

    def __init__(
        self,
        on_connect: OnConnect,
        sock: socket.socket,
        limit: int,
    ) -> None:
        self._on_connect, self._limit = on_connect, limit
        self._loop = asyncio.get_running_loop()
        self.sockets = [sock]
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        listener = self.sockets[0]
        for _ in range(64):  # a burst of connections, without starving the loop
            try:
                conn, _addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors or an aborted handshake: keep listening
                return
            reader = asyncio.StreamReader(limit=self._limit, loop=self._loop)
            protocol = asyncio.StreamReaderProtocol(reader, self._on_connect, loop=self._loop)
            StampedTransport(self._loop, conn, protocol, self._loop.time)

    def close(self) -> None:
        if self.sockets:
            sock = self.sockets.pop()
            self._loop.remove_reader(sock.fileno())
            sock.close()

    async def wait_closed(self) -> None:
        return None


async def start_stamped_server(
    on_connect: OnConnect,
    host: str,
    port: int,
    *,
    limit: int,
    backlog: int = 1024,
) -> StampedServer:
    """Listen on ``host:port`` (IPv4) and serve each connection with ``on_connect``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Asked on the listener, stamping is on (host-wide) before the first connection,
        # and each accepted socket inherits the option.
        enable_rx_stamps(sock)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return StampedServer(on_connect, sock, limit)
