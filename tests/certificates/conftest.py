"""Keys made in tmp_path, a small model file, and a helper that issues a certificate for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from llmcert._hashing import digest_file
from llmcert.certificates import issue_certificate
from llmcert.models._types import ModelIdentity
from tests.conftest import make_keypair

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
ASSESSMENT_DIGEST = "sha256:" + "ab" * 32
STANDARD_DIGEST = "sha256:" + "cd" * 32

Issue = Callable[..., dict[str, Any]]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return make_keypair(tmp_path / "keys")


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "tiny.gguf"
    path.parent.mkdir()
    path.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    return path


@pytest.fixture
def identity(model_file: Path) -> ModelIdentity:
    """An artefact identity built the way the llama.cpp backend builds one."""
    return ModelIdentity(
        kind="artefact",
        ref=f"llamacpp:{model_file}",
        artefact_digest=digest_file(model_file),
        artefact_path=str(model_file),
        chat_template_digest="sha256:" + "11" * 32,
        engine="llama-cpp-python 0.3.36",
        details={"name": "Tiny", "add_bos_token": "false"},
    )


@pytest.fixture
def issue(keys: tuple[Path, Path], identity: ModelIdentity) -> Issue:
    """Issue a passing certificate for ``identity``; keyword arguments override the defaults."""

    def _issue(**overrides: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model_identity": identity.to_dict(),
            "model_digest": identity.digest,
            "standard_id": "gbt-45654",
            "standard_version": "2025.1",
            "standard_digest": STANDARD_DIGEST,
            "assessment_digest": ASSESSMENT_DIGEST,
            "verdict": "pass",
            "issuer": "Test Centre",
            "private_key_path": keys[0],
            "now": NOW,
        }
        args.update(overrides)
        return issue_certificate(**args)

    return _issue
