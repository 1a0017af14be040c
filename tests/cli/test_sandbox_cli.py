"""``llmcert sandbox check`` prints one line per attempt and exits by the result."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from llmcert.cli._app import app
from llmcert.sandbox import PROBES


def test_sandbox_check_json_lists_every_probe_and_passes() -> None:
    result = CliRunner().invoke(app, ["sandbox", "check", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True
    assert [p["name"] for p in data["probes"]] == [p.name for p in PROBES]
    assert data["policy_digest"].startswith("sha256:")


def test_sandbox_check_refuses_without_bubblewrap(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from llmcert.sandbox import _layers

    monkeypatch.setattr(_layers, "_checked", set())
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(app, ["sandbox", "check"])
    assert result.exit_code == 3
    assert "bubblewrap" in result.output
