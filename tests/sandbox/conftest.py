"""The sandbox tests need bubblewrap and user namespaces; without them they fail, not skip:
a missing sandbox is exactly what llmcert must refuse to hide."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from llmcert.sandbox import SandboxPolicy
from llmcert.sandbox._run import RUN_TOKEN, RUN_TOKEN_ENV


@pytest.fixture
def policy() -> SandboxPolicy:
    return SandboxPolicy().with_limits(cpu_seconds=1, wall_seconds=4)


def sandbox_processes(uid: int, *, grace: float = 3.0) -> list[int]:
    """Host processes (zombies included) of the sandbox user started by this test run, after a
    grace period for reaping. Other runs' sandboxes may be alive at the same time: a process
    counts when its environment holds this run's token, or (a zombie has no environment) when
    this process is its parent."""
    marker = f"{RUN_TOKEN_ENV}={RUN_TOKEN}".encode()
    me = f"PPid:\t{os.getpid()}\n"
    end = time.monotonic() + grace
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
                environ = (entry / "environ").read_bytes().split(b"\0")
                if marker in environ or me in (entry / "status").read_text():
                    found.append(int(entry.name))
            except OSError:
                continue
        if not found or time.monotonic() > end:
            return found
        time.sleep(0.05)


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="the uid drop is only done when llmcert runs as root"
)
