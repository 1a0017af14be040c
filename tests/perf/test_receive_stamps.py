"""The stamped transport: reads carry when their bytes reached the socket, not when they
were read. Every bound below is causal (a forced delay or gap), so machine load can only
widen the margin, never break it."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from llmcert import _rxstamp
from llmcert._rxstamp import (
    StampedTransport,
    open_stamped,
    stamping_keeper,
    start_stamped_server,
)
from llmcert.perf import LoadSpec, OpenAIStreamTarget, _wire, build_requests, run_load
from llmcert.perf._trace import receive_stamp
from llmcert.testing import FakeOpenAIServer, _server
from tests.perf.test_client import WORKLOAD


class _Reads(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: StampedTransport | None = None
        self.reads: list[tuple[bytes, float, float, float, float]] = []
        self.got = asyncio.Event()
        self.lost = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, StampedTransport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        t = self.transport
        assert t is not None
        self.reads.append((data, t.rx_first, t.rx_time, t.rx_wait, time.monotonic()))
        self.got.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()


@pytest.fixture
async def pair() -> AsyncIterator[tuple[socket.socket, _Reads]]:
    """A plain peer socket and a stamped client connected to it."""
    keeper = stamping_keeper()  # as the client does: stamping is on before any byte flows
    await asyncio.sleep(0.05)  # the kernel turns it on from a work queue
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    proto = _Reads()
    transport = await open_stamped("127.0.0.1", listener.getsockname()[1], lambda: proto)
    peer, _ = listener.accept()
    yield peer, proto
    transport.close()
    peer.close()
    listener.close()
    if keeper is not None:
        keeper.close()


async def test_a_read_is_stamped_when_its_bytes_arrived_not_when_it_ran(
    pair: tuple[socket.socket, _Reads],
) -> None:
    peer, proto = pair
    assert proto.transport is not None
    assert proto.transport.kernel_stamps
    before = time.monotonic()
    peer.sendall(b"first token")
    after = time.monotonic()
    time.sleep(0.05)  # the client's loop is held: the bytes wait in the kernel
    await asyncio.wait_for(proto.got.wait(), 10)
    data, first, last, wait, read_at = proto.reads[0]
    assert data == b"first token"
    assert before <= first <= after  # stamped during the send, on the client's clock
    assert first == last  # one segment
    assert wait >= 0.05
    assert read_at - first >= 0.05


async def test_a_read_of_two_sends_is_never_stamped_early(
    pair: tuple[socket.socket, _Reads],
) -> None:
    # The kernel may merge the second segment into the first while both wait, and the merged
    # one carries the newer stamp: a stamp can be late by what joined it, never early.
    peer, proto = pair
    before = time.monotonic()
    peer.sendall(b"a")
    time.sleep(0.02)  # both sends happen before the client's loop reads anything
    second = time.monotonic()
    peer.sendall(b"b")
    await asyncio.wait_for(proto.got.wait(), 10)
    data, first, last, wait, read_at = proto.reads[0]
    assert data == b"ab"
    assert before <= first <= last <= read_at
    assert last >= second  # the newest bytes were sent no earlier than the second send
    assert wait == pytest.approx(read_at - first, abs=0.005)


async def test_a_pause_between_the_two_clock_reads_never_stamps_a_read_early() -> None:
    # The transport reads the stamps' clock and its caller's clock one after the other; a
    # thread descheduled between them must not move a stamp before its bytes were sent.
    def slow_clock() -> float:
        now = time.monotonic()
        time.sleep(0.02)  # descheduled just after this clock was read
        return now

    keeper = stamping_keeper()
    await asyncio.sleep(0.05)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    proto = _Reads()
    transport = await open_stamped(
        "127.0.0.1", listener.getsockname()[1], lambda: proto, clock=slow_clock
    )
    peer, _ = listener.accept()
    try:
        before = time.monotonic()
        peer.sendall(b"x")
        await asyncio.wait_for(proto.got.wait(), 10)
    finally:
        transport.close()
        peer.close()
        listener.close()
        if keeper is not None:
            keeper.close()
    _, first, last, _, read_at = proto.reads[0]
    assert before <= first <= last <= read_at


@pytest.mark.parametrize("missing", ["the socket option", "recvmsg and add_reader"])
async def test_without_kernel_stamps_reads_carry_their_own_time_and_the_run_says_so(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    if missing == "the socket option":  # not Linux, or an architecture not known here
        monkeypatch.setattr(_rxstamp, "_SO_TIMESTAMPNS", None)
    else:  # Windows: asyncio's own transports on both sides
        monkeypatch.setattr(_wire, "RXSTAMP_AVAILABLE", False)
        monkeypatch.setattr(_server, "RXSTAMP_AVAILABLE", False)
    async with FakeOpenAIServer(streaming=True) as srv:
        target = OpenAIStreamTarget(srv.base_url, "m")
        await target.start()
        try:
            run = await run_load(
                target, LoadSpec(rate=50, requests=5), build_requests(WORKLOAD, 5, 0)
            )
        finally:
            await target.aclose()
    assert all(t.status == "ok" for t in run.traces)
    assert target.receive_stamp == "read"
    assert receive_stamp(run.traces) == "read"
    assert all(t.first_read_wait is None for t in run.traces)
    assert {t.server_arrival_stamp for t in run.traces} == {"read"}


async def test_a_large_write_is_buffered_flow_controlled_and_flushed_before_close() -> None:
    payload = bytes(range(256)) * (8 * 4096)  # 8 MiB, far past the socket buffers

    async def send_all(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        size = int((await reader.readline()).decode())
        for at in range(0, size, 1 << 20):
            writer.write(payload[at : at + (1 << 20)])
            await writer.drain()
        writer.close()

    server = await start_stamped_server(send_all, "127.0.0.1", 0, limit=1 << 16)
    try:
        proto = _Reads()
        transport = await open_stamped(
            "127.0.0.1", server.sockets[0].getsockname()[1], lambda: proto
        )
        transport.write(f"{len(payload)}\n".encode())
        await asyncio.wait_for(proto.lost.wait(), 30)
    finally:
        server.close()
    assert b"".join(r[0] for r in proto.reads) == payload
    assert all(r[1] <= r[2] <= r[4] for r in proto.reads)  # oldest ≤ newest ≤ read
