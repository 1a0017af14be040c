"""Locating the embedded GGUF models inside their PyPI packages, offline."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from llmcert._hashing import digest_file
from llmcert.errors import ModelRefError
from llmcert.models.embedded import (
    EMBEDDED_INSTALL_HINTS,
    embedded_cache_dir,
    embedded_expected_digest,
    embedded_model_path,
)


def _require(name: str) -> Path:
    """Fail (never skip) with the install command when the model package is absent."""
    try:
        return embedded_model_path(name)
    except ModelRefError as exc:
        pytest.fail(f"embedded model {name!r} is required for this test: {exc}")


def test_install_hints_name_the_extras() -> None:
    assert EMBEDDED_INSTALL_HINTS == {
        "smollm2": 'pip install "llmcert[embedded]"',
        "gemma3-270m": 'pip install "llmcert[embedded]"',
    }


def test_unknown_name_is_a_model_ref_error() -> None:
    with pytest.raises(ModelRefError, match="unknown embedded model 'llama'"):
        embedded_model_path("llama")


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("smollm2", 'pip install "llmcert[embedded]"'),
        ("gemma3-270m", 'pip install "llmcert[embedded]"'),
    ],
)
def test_missing_package_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, name: str, command: str
) -> None:
    def absent(dist_name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(dist_name)

    monkeypatch.setattr(metadata, "distribution", absent)
    with pytest.raises(ModelRefError) as info:
        embedded_model_path(name)
    assert command in str(info.value)
    assert "not installed" in str(info.value)


def test_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMCERT_CACHE_DIR", str(tmp_path / "c"))
    assert embedded_cache_dir() == tmp_path / "c" / "models"
    monkeypatch.delenv("LLMCERT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert embedded_cache_dir() == tmp_path / "x" / "llmcert" / "models"


@pytest.mark.embedded
def test_smollm2_is_found_inside_its_package_and_matches_record() -> None:
    path = _require("smollm2")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    expected = embedded_expected_digest("smollm2")
    assert expected is not None
    assert expected.startswith("sha256:")
    # The wheel's RECORD hash, decoded, is the file's real sha256.
    assert digest_file(path) == expected


@pytest.mark.embedded
def test_gemma_is_assembled_once_and_verified(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LLMCERT_CACHE_DIR", str(tmp_path))
    path = _require("gemma3-270m")
    assert path == tmp_path / "models" / "gemma-3-270m-q4_k_m.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    assert digest_file(path) == embedded_expected_digest("gemma3-270m")
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left

    mtime = path.stat().st_mtime_ns
    assert embedded_model_path("gemma3-270m") == path
    assert path.stat().st_mtime_ns == mtime  # reused, not rewritten

    # A truncated file in the cache (e.g. a full disk) is rebuilt, not trusted.
    with path.open("r+b") as fh:
        fh.truncate(1000)
    assert embedded_model_path("gemma3-270m") == path
    assert digest_file(path) == embedded_expected_digest("gemma3-270m")
