"""The public namespace of llmcert.registry is exactly its __all__, and importing it is light."""

from __future__ import annotations

import subprocess
import sys

import llmcert.registry as registry


def test_all_names_resolve_and_nothing_else_is_public() -> None:
    for name in registry.__all__:
        assert getattr(registry, name) is not None
    public = {n for n in dir(registry) if not n.startswith("_")}
    assert public == set(registry.__all__)


def test_importing_does_not_load_sqlalchemy() -> None:
    code = (
        "import sys, llmcert.registry; print('sqlalchemy' in sys.modules, 'alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
