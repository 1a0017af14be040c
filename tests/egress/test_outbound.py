"""Server-side request forgery, as a class: where calls may go, and what an applicant reads back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from llmcert.egress import Egress, EgressPolicy, OutboundRefused, classify
from llmcert.errors import ModelError
from llmcert.testing import FakeOpenAIServer

LOOPBACK_ALLOWED = EgressPolicy.allowing(["127.0.0.0/8"])  # the tests' explicit setting
SECRET_BODY = b"internal-service-secret-7d1e"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _raw_server(handler: Handler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _http(status: str, extra: str = "") -> Handler:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            f"HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\n"
            f"Content-Length: {len(SECRET_BODY)}\r\nConnection: close\r\n\r\n".encode()
            + SECRET_BODY
        )
        await writer.drain()
        writer.close()

    return answer


async def _failure(egress: Egress, ref: str) -> str:
    backend = egress.open_backend(ref)
    try:
        with pytest.raises(ModelError) as caught:
            await backend.identify()
    finally:
        await backend.aclose()
    return classify(caught.value)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(model="m") as server:
        yield server


@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]"])
async def test_loopback_in_any_spelling_is_refused_by_default(
    fake: FakeOpenAIServer, host: str
) -> None:
    with pytest.raises(OutboundRefused) as refused:
        Egress().open_backend(f"openai://{host}:{fake.port}/v1?model=m")
    assert refused.value.code == "egress_denied"
    assert fake.requests == []


async def test_a_name_resolving_to_loopback_is_refused_at_connect_time(
    fake: FakeOpenAIServer,
) -> None:
    note = await _failure(Egress(), f"openai://localhost:{fake.port}/v1?model=m")
    assert note == "endpoint not allowed by the registry's egress policy"
    assert fake.requests == []


async def test_the_explicit_test_setting_reaches_loopback(fake: FakeOpenAIServer) -> None:
    backend = Egress(policy=LOOPBACK_ALLOWED).open_backend(
        f"openai://localhost:{fake.port}/v1?model=m"
    )
    try:
        identity = await backend.identify()
    finally:
        await backend.aclose()
    assert identity.digest.startswith("sha256:")
    assert fake.requests


async def test_redirects_are_not_followed_and_bodies_not_read_back(fake: FakeOpenAIServer) -> None:
    target = f"http://127.0.0.1:{fake.port}/v1/models"
    async for port in _raw_server(_http("302 Found", f"Location: {target}\r\n")):
        note = await _failure(
            Egress(policy=LOOPBACK_ALLOWED), f"openai://127.0.0.1:{port}/v1?model=m"
        )
    assert note == "HTTP 302"
    assert fake.requests == []


@pytest.mark.parametrize(
    "status", ["404 Not Found", "500 Internal Server Error", "401 Unauthorized"]
)
async def test_an_error_status_is_reported_as_its_class_only(status: str) -> None:
    async for port in _raw_server(_http(status)):
        backend = Egress(policy=LOOPBACK_ALLOWED).open_backend(
            f"openai://127.0.0.1:{port}/v1?model=m"
        )
        try:
            with pytest.raises(ModelError) as caught:
                await backend.identify()
        finally:
            await backend.aclose()
    assert classify(caught.value) == f"HTTP {status.split()[0]}"
    assert SECRET_BODY.decode() not in str(caught.value)
    assert caught.value.__cause__ is None  # the endpoint's words are not even chained


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(5)
    writer.close()


async def _banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
    await writer.drain()
    writer.close()


async def test_open_and_closed_ports_read_the_same() -> None:
    egress = Egress(policy=LOOPBACK_ALLOWED, max_timeout=1.0)
    notes = {
        "closed": await _failure(egress, f"openai://127.0.0.1:{free_port()}/v1?model=m&timeout=1")
    }
    async for port in _raw_server(_banner):
        notes["banner"] = await _failure(egress, f"openai://127.0.0.1:{port}/v1?model=m&timeout=1")
    async for port in _raw_server(_silent):
        notes["silent"] = await _failure(egress, f"openai://127.0.0.1:{port}/v1?model=m&timeout=1")
    assert set(notes.values()) == {"endpoint unreachable"}, notes


async def test_an_oversized_answer_is_refused_not_held() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        )
        try:
            for _ in range(64):
                writer.write(b"[" * 65536)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async for port in _raw_server(huge):
        note = await _failure(
            Egress(policy=LOOPBACK_ALLOWED, max_response_bytes=1 << 20),
            f"openai://127.0.0.1:{port}/v1?model=m",
        )
    assert note == "malformed response"


@pytest.mark.parametrize(
    ("ref", "code"),
    [
        (
            "openai://api.example.com/v1?model=m&key_env=LLMCERT_KEY_PASSPHRASE",
            "credential_in_reference",
        ),
        (
            "openai://api.example.com/v1?model=m&key_env=SURELY_UNSET_VARIABLE",
            "credential_in_reference",
        ),
        ("llamacpp:/etc/passwd", "scheme_not_allowed"),
        ("embedded", "scheme_not_allowed"),
        ("openai://169.254.169.254/v1?model=m", "egress_denied"),
        ("openai://api.example.com/v1?model=m&timeout=inf", "invalid_model_ref"),
        ("openai://api.example.com/v1?model=m&api_key=x", "invalid_model_ref"),
    ],
)
def test_references_are_checked_with_stable_codes(ref: str, code: str) -> None:
    with pytest.raises(OutboundRefused) as refused:
        Egress().check_reference(ref)
    assert refused.value.code == code


def test_a_set_and_an_unset_variable_are_refused_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SET_VARIABLE", "value")
    messages = set()
    for name in ("SET_VARIABLE", "UNSET_VARIABLE_9f2"):
        with pytest.raises(OutboundRefused) as refused:
            Egress().check_reference(f"openai://api.example.com/v1?model=m&key_env={name}")
        messages.add(str(refused.value))
    assert len(messages) == 1
