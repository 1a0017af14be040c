"""No server-side secret ever reaches an applicant's endpoint (the critical class of the pen test).

Every environment variable of the server process is given a canary value, and
an applicant's filings are assessed for real through the production worker.
Every byte the server sends toward the applicant's endpoint passes through a
recording proxy; no canary may appear in it. A positive control binds an
operator key to the endpoint's own origin and finds it on the wire, so the
recording is shown to catch a credential when one is sent.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from llmcert.egress import CredentialMap, Egress, EgressPolicy
from llmcert.registry import Registry
from llmcert.server import Limits, SigningConfig, create_app, processor_of
from llmcert.server._services_worker import services_worker
from llmcert.testing import FakeOpenAIServer
from tests.conftest import make_keypair

WELL_KNOWN = (
    "LLMCERT_API_KEY",
    "OPENAI_API_KEY",
    "LLMCERT_KEY_PASSPHRASE",
    "LLMCERT_DATABASE_URL",
    "OPERATOR_KEY",
    "AWS_SECRET_ACCESS_KEY",
)
#: Kept usable (the canary is appended), so the process still finds its programs.
PATH_LIKE = ("PATH", "PYTHONPATH", "LD_LIBRARY_PATH")


class RecordingProxy:
    """A loopback TCP relay that keeps every byte the client sent."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.sent = bytearray()
        self.port = 0
        self._server: asyncio.AbstractServer | None = None

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bool
    ) -> None:
        try:
            while chunk := await reader.read(65536):
                if record:
                    self.sent.extend(chunk)
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(
            self._pipe(reader, up_writer, True), self._pipe(up_reader, writer, False)
        )

    async def __aenter__(self) -> RecordingProxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()


def _plant_canaries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    canaries = []
    for index, name in enumerate([*os.environ, *WELL_KNOWN]):
        canary = f"canary{index:03d}x{os.urandom(4).hex()}"
        canaries.append(canary)
        value = f"{os.environ[name]}{os.pathsep}/{canary}" if name in PATH_LIKE else canary
        monkeypatch.setenv(name, value)
    return canaries


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[FakeOpenAIServer, RecordingProxy]]:
    async with FakeOpenAIServer(model="m") as fake, RecordingProxy(fake.port) as proxy:
        yield fake, proxy


async def _assess_filing(
    registry: Registry,
    keys: tuple[Path, Path],
    tmp_path: Path,
    egress: Egress,
    ref: str,
) -> tuple[int, dict[str, object]]:
    worker = services_worker(registry, tmp_path / "out", egress=egress)
    app = create_app(
        registry,
        worker=worker,
        signing=SigningConfig(keys[0], keys[1]),
        limits=Limits(),
        egress=egress,
    )
    _, secret = registry.create_token("applicant-x", "applicant", actor="test")
    auth = {"Authorization": f"Bearer {secret}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        model = await client.post(
            "/api/v1/models",
            json={"name": "m", "ref": ref, "identity_digest": "sha256:" + "ab" * 32},
            headers=auth,
        )
        if model.status_code != 201:
            return model.status_code, model.json()
        filing = await client.post(
            "/api/v1/filings",
            data={"model_id": model.json()["id"], "standard_ref": "example-capability"},
            headers=auth,
        )
        assert filing.status_code == 202, filing.text
        await processor_of(app).drain()
        detail = await client.get(f"/api/v1/filings/{filing.json()['id']}", headers=auth)
        await worker.aclose()
        return detail.status_code, detail.json()


async def test_no_environment_value_ever_reaches_an_applicant_endpoint(
    endpoint: tuple[FakeOpenAIServer, RecordingProxy],
    registry: Registry,
    keys: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, proxy = endpoint
    canaries = _plant_canaries(monkeypatch)
    # The issuer key is encrypted with the (canary) passphrase, as in production.
    keys = make_keypair(
        tmp_path / "encrypted", passphrase=os.environ["LLMCERT_KEY_PASSPHRASE"].encode()
    )
    bindings = tmp_path / "credentials.yaml"
    bindings.write_text("http://127.0.0.1:1: {env: OPERATOR_KEY}\n", encoding="utf-8")
    egress = Egress(
        policy=EgressPolicy.allowing(["127.0.0.0/8"]),  # the test's explicit setting
        credentials=CredentialMap.load(bindings, os.environ),
    )
    base = f"openai://127.0.0.1:{proxy.port}/v1?model=m"

    for variable in ("LLMCERT_KEY_PASSPHRASE", "LLMCERT_DATABASE_URL", "NO_SUCH_VARIABLE"):
        status, body = await _assess_filing(
            registry, keys, tmp_path, egress, f"{base}&key_env={variable}"
        )
        assert status == 400
        assert body["error"]["code"] == "credential_in_reference"  # type: ignore[index]

    status, detail = await _assess_filing(registry, keys, tmp_path, egress, base)
    assert status == 200
    assert detail["status"] == "awaiting_review", detail
    assert fake.requests, "the assessment reached the endpoint"
    wire = bytes(proxy.sent).decode("utf-8", "replace")
    assert "authorization" not in wire.lower()  # no binding for this origin: no credential
    leaked = [c for c in canaries if c in wire]
    assert leaked == []


async def test_a_bound_credential_goes_to_its_origin_only(
    endpoint: tuple[FakeOpenAIServer, RecordingProxy],
    registry: Registry,
    keys: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake, proxy = endpoint
    monkeypatch.setenv("OPERATOR_KEY", "operator-secret-5c9a")
    bindings = tmp_path / "credentials.yaml"
    bindings.write_text(f"http://127.0.0.1:{proxy.port}: {{env: OPERATOR_KEY}}\n", encoding="utf-8")
    egress = Egress(
        policy=EgressPolicy.allowing(["127.0.0.0/8"]),
        credentials=CredentialMap.load(bindings, os.environ),
    )
    assert "operator-secret" not in repr(egress)
    status, _ = await _assess_filing(
        registry, keys, tmp_path, egress, f"openai://127.0.0.1:{proxy.port}/v1?model=m"
    )
    assert status == 200
    assert b"Bearer operator-secret-5c9a" in proxy.sent  # the recording sees credentials
