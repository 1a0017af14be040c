"""Shared fixtures: a tiny suite on disk, and the path of the public datasets beside the repo."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from llmcert.errors import RequestRejected
from llmcert.models import GenerateRequest, Generation
from llmcert.models.mock import MockBackend

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


class RejectingMock(MockBackend):
    """Echoes, but the endpoint rejects any prompt containing 'reject'."""

    async def generate(self, request: GenerateRequest) -> Generation:
        assert request.messages is not None
        if "reject" in request.messages[-1].content:
            self.calls += 1
            raise RequestRejected("rejected by the endpoint")
        return await super().generate(request)


def write_suite(
    directory: Path,
    items: Sequence[Mapping[str, object]],
    *,
    scorer: str = "exact_match",
    kind: str = "chat",
    extra: str = "",
    name: str = "tiny",
) -> Path:
    """Write a suite YAML with its JSONL items; returns the YAML path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "items.jsonl").write_text(
        "".join(json.dumps(dict(it), ensure_ascii=False) + "\n" for it in items), encoding="utf-8"
    )
    path = directory / "suite.yaml"
    path.write_text(
        f"""name: {name}
version: 1.0.0
items:
  source: items.jsonl
prompt:
  kind: {kind}
  template: "{{{{ input }}}}"
generation:
  max_tokens: 16
scorer:
  name: {scorer}
group_by: [language]
{extra}""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    items: list[dict[str, object]] = [
        {
            "id": f"q{i}",
            "input": f"say {i}",
            "target": f"say {i}" if i % 3 else "nope",
            "language": "en" if i % 2 else "zh",
        }
        for i in range(12)
    ]
    return write_suite(tmp_path / "suite", items)


def make_keypair(
    directory: Path, name: str = "issuer", passphrase: bytes | None = None
) -> tuple[Path, Path]:
    """A fresh ECDSA P-256 key pair as PEM files (private key encrypted if a passphrase is given)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def pytest_report_header() -> str:
    """Which llama.cpp build the model tests run on (LLAMA_CPP_LIB_PATH selects another)."""
    import os

    override = os.environ.get("LLAMA_CPP_LIB_PATH")
    if override is None:
        return "llama.cpp: the installed build (set LLAMA_CPP_LIB_PATH to test another)"
    return f"llama.cpp: the build in {override} (LLAMA_CPP_LIB_PATH)"
