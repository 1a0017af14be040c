"""Run the fake server in a child process, as benchmarks and crash tests need.

A separate process keeps the server's CPU off the measured client and lets a
test kill the client without touching the server.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerProcess:
    port: int
    model: str
    log: Path | None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model_ref(self) -> str:
        """The llmcert model reference that points at this server."""
        return f"openai://127.0.0.1:{self.port}/v1?model={self.model}"


@contextmanager
def fake_server_process(
    *,
    latency: float = 0.0,
    model: str = "fake-model",
    policy: str = "hash",
    log: Path | None = None,
    extra_args: Sequence[str] = (),
    start_timeout: float = 30.0,
) -> Iterator[ServerProcess]:
    """Start ``python -m llmcert.testing.fake_openai`` on a free loopback port; stop it after."""
    with tempfile.TemporaryDirectory(prefix="llmcert-fake-") as tmp:
        ready = Path(tmp) / "port"
        cmd = [
            sys.executable, "-m", "llmcert.testing.fake_openai", "--port", "0",
            "--latency", str(latency), "--model", model, "--policy", policy,
            "--ready-file", str(ready), *extra_args,
        ]  # fmt: skip
        if log is not None:
            cmd += ["--log", str(log)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + start_timeout
            while not (ready.exists() and ready.read_text().strip()):
                if proc.poll() is not None:
                    raise RuntimeError(f"the fake server exited with code {proc.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError("the fake server did not start in time")
                time.sleep(0.02)
            yield ServerProcess(int(ready.read_text()), model, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
