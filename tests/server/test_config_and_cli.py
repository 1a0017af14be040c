"""Server configuration from the environment, key checks, and the ``serve`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from llmcert.cli._serve import serve_app
from llmcert.errors import LlmcertError
from llmcert.registry import open_registry
from llmcert.server import SigningConfig
from llmcert.server import __all__ as exported
from tests.conftest import make_keypair


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(serve_app, name="serve")
    return app


def test_signing_config_from_env_and_arguments(tmp_path: Path) -> None:
    private, public = make_keypair(tmp_path)
    env = {"LLMCERT_SIGNING_KEY": str(private), "LLMCERT_ISSUER": "Lab"}
    config = SigningConfig.from_env(environ=env)
    assert (config.private_key_path, config.public_key_path, config.issuer) == (
        private, public, "Lab",
    )  # fmt: skip
    assert len(config.check()) == 64
    with pytest.raises(LlmcertError, match="LLMCERT_SIGNING_KEY"):
        SigningConfig.from_env(environ={})


def test_a_public_key_of_another_pair_is_refused_at_start(tmp_path: Path) -> None:
    private, _ = make_keypair(tmp_path, "a")
    _, other_public = make_keypair(tmp_path, "b")
    with pytest.raises(LlmcertError, match="not the public half"):
        SigningConfig(private, other_public).check()


def test_token_create_prints_the_secret_once_on_stdout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    result = CliRunner().invoke(
        cli(), ["serve", "token", "create", "--role", "admin", "--name", "root", "--registry", url]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    store = open_registry(url)
    try:
        token = store.authenticate(secret)
        assert token is not None
        assert (token.name, token.role.value) == ("root", "admin")
    finally:
        store.close()
    bad = CliRunner().invoke(
        cli(), ["serve", "token", "create", "--role", "god", "--name", "x", "--registry", url]
    )
    assert bad.exit_code == 3
    assert "unknown role" in bad.output


def test_serve_builds_the_app_and_hands_it_to_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    private, _ = make_keypair(tmp_path)
    seen: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        seen["app"], seen["kwargs"] = app, kwargs

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setenv("LLMCERT_SIGNING_KEY", str(private))
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    result = CliRunner().invoke(cli(), ["serve", "--registry", url, "--port", "8765"])
    assert result.exit_code == 0, result.output
    assert seen["kwargs"]["host"] == "127.0.0.1"
    assert seen["kwargs"]["port"] == 8765
    assert seen["app"].title == "llmcert registry"


def test_serve_without_a_key_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMCERT_SIGNING_KEY", raising=False)
    result = CliRunner().invoke(
        cli(), ["serve", "--registry", f"sqlite:///{tmp_path / 'r.sqlite'}"]
    )
    assert result.exit_code == 3
    assert "no signing key" in result.output


def test_exports() -> None:
    import llmcert.server as server

    assert set(exported) == {
        "ACCESS", "ANONYMOUS", "PRINCIPALS", "AssessmentWorker", "FilingProcessor", "Limits",
        "Publishing", "QueueWorker", "RouteInfo", "SigningConfig", "StandardCatalog",
        "WorkerResult", "create_app", "processor_of", "routes_of",
    }  # fmt: skip
    for name in exported:
        value = getattr(server, name)
        if callable(value):
            assert value.__module__.startswith("llmcert.server"), name
