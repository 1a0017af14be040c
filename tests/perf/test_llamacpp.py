"""Real serving: ``python -m llama_cpp.server`` with the embedded SmolLM2 on loopback,
streamed; and the same GGUF as an in-process target."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmcert.models.embedded import embedded_model_path
from llmcert.perf import (
    LoadSpec,
    OpenAIStreamTarget,
    SLOSpec,
    WorkloadSpec,
    open_target,
    run_experiment,
)

pytestmark = [pytest.mark.embedded, pytest.mark.slow]

WORKLOAD = WorkloadSpec.model_validate(
    {"input_tokens": {"value": 8}, "output_tokens": {"value": 8}, "ignore_eos": True}
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server, in its own process, on loopback."""
    model = embedded_model_path("smollm2")
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "1024", "--n_threads", "1",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {Path(log).read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start in 120 s")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_a_real_llama_cpp_server_is_measured_while_streaming(llama_server: str) -> None:
    result = await asyncio.wait_for(
        run_experiment(
            OpenAIStreamTarget(llama_server, "smollm2"),
            LoadSpec(mode="closed", concurrency=2, requests=4, timeout_s=60),
            WORKLOAD,
            SLOSpec(ttft_ms=60_000),
            selftest=False,
        ),
        timeout=300,
    )
    m = result.metrics
    assert m.n_ok == 4, m.errors
    for t in result.traces:
        assert t["token_times"] == sorted(t["token_times"])
        assert t["scheduled"] <= t["sent"] <= t["end"]
        if t["token_times"]:
            assert t["sent"] <= t["token_times"][0] <= t["end"]
    # llama-cpp-python's server sends no usage in a stream, so tokens are counted by chunk,
    # and the result says so. It ignores ignore_eos, so an answer may stop short: such
    # answers are counted below the length floor (and as missing every SLO), never dropped.
    assert m.token_source == {"chunks": 4}
    # A real server on loopback: its chunks are timed by the kernel's receive stamps.
    assert result.receive_stamp == "kernel"
    short = sum(1 for t in result.traces if len(t["token_times"]) < t["min_tokens"])
    assert m.n_short == short
    assert m.attainment.met == 4 - short
    assert m.ttft_ms.n + m.ttft_ms.n_missing == 4


async def test_the_embedded_model_in_process_counts_tokens_with_its_tokenizer() -> None:
    result = await run_experiment(
        open_target("embedded"),
        LoadSpec(mode="closed", concurrency=2, requests=3, timeout_s=120),
        WORKLOAD,
        SLOSpec(),
        selftest=False,
    )
    m = result.metrics
    assert m.n_ok == 3, m.errors
    assert m.token_source == {"tokenizer": 3}
    assert result.token_counting == "llama.cpp tokenizer of the model"
    assert result.receive_stamp == "in-process"  # timed as generated: no socket to stamp
    # ignore_eos holds through a logit bias: no answer stops short of the floor.
    assert m.n_short == 0
    # One request at a time: the second in the queue waits, and that wait is its TTFT.
    ttfts = sorted(t["token_times"][0] - t["scheduled"] for t in result.traces)
    assert ttfts[-1] > ttfts[0]
