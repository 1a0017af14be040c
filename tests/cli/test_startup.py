"""Start-up stays light: heavy dependencies load only when a command needs them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("llama_cpp", "torch", "numpy", "scipy", "aiohttp", "httpx", "sqlite3", "jinja2")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_cli_import_loads_no_heavy_dependency() -> None:
    loaded = _modules_after("import llmcert.cli")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_help_runs_without_loading_models_or_network_stacks() -> None:
    code = (
        "import sys\nfrom llmcert.cli import app\n"
        "try:\n    app(['--help'], prog_name='llmcert')\nexcept SystemExit:\n    pass"
    )
    loaded = _modules_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_service_defers_its_pipeline_until_after_the_model_is_contacted() -> None:
    loaded = _modules_after("import llmcert.services.evaluate")
    assert "llmcert.services._pipeline" not in loaded
    assert "llmcert.engine._executor" not in loaded
    assert "jinja2" not in loaded
