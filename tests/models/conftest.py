"""A real ``python -m llama_cpp.server`` on loopback per embedded model, started once per session.

The endpoint tests compare what llmcert reads through the OpenAI-compatible API
with what it computes in-process from the same GGUF file; loading a model is the
slow part, so each server is shared by every test that asks for it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmcert.models.embedded import embedded_model_path
from llmcert.models.llamacpp import default_threads

SERVER_EXTRAS = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
READY_TIMEOUT = 300.0


@dataclass(frozen=True)
class LlamaServer:
    model_path: Path
    port: int
    threads: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def ref(self, **params: str) -> str:
        query = "".join(f"&{k}={v}" for k, v in params.items())
        return f"openai://127.0.0.1:{self.port}/v1?model={self.model_path}&timeout=900{query}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as resp:
            return bool(json.load(resp).get("data"))
    except OSError:
        return False


@contextlib.contextmanager
def _serve(name: str, log_dir: Path) -> Iterator[LlamaServer]:
    missing = [m for m in SERVER_EXTRAS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f'llama_cpp.server needs {missing}: pip install "llmcert[embedded]"')
    path = embedded_model_path(name)
    threads, _ = default_threads()
    port = _free_port()
    log = (log_dir / f"llama-server-{name}.log").open("wb")
    # The server's own defaults, except threads (as in-process) and its address.
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
    ]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not _ready(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (log_dir / f"llama-server-{name}.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server for {name} did not start:\n{tail}")
            time.sleep(0.5)
        yield LlamaServer(path, port, threads)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def smollm2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """SmolLM2: no start-of-sequence token, so the server's echo is misaligned."""
    with _serve("smollm2", tmp_path_factory.mktemp("server")) as server:
        yield server


@pytest.fixture(scope="session")
def gemma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """Gemma 3 270M: adds a start token, so the server's echo is aligned."""
    with _serve("gemma3-270m", tmp_path_factory.mktemp("server")) as server:
        yield server


@pytest.fixture
def fresh_gemma_server(tmp_path: Path) -> Iterator[LlamaServer]:
    """A Gemma server no request has reached yet: its prompt cache is empty."""
    with _serve("gemma3-270m", tmp_path) as server:
        yield server
