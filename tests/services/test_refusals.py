"""A suite the model cannot run, or log-likelihoods it cannot give right, are errors before any call."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcert.cli import app
from llmcert.errors import SpecError
from llmcert.models.llamacpp import LlamaCppBackend
from llmcert.models.openai_compat._loglik import LoglikelihoodRefused
from llmcert.services.evaluate import EvalRequest, evaluate
from llmcert.testing import FakeOpenAIServer
from tests.conftest import SHARED_DATA, write_suite


def base_model_file(path: Path) -> Path:
    """A GGUF header with no chat template: enough for the backend to know it is a base model."""

    def text(value: str) -> bytes:
        raw = value.encode()
        return struct.pack("<Q", len(raw)) + raw

    kv = [("general.architecture", 8, text("llama")), ("general.name", 8, text("base"))]
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for key, vtype, payload in kv:
        body += text(key) + struct.pack("<I", vtype) + payload
    path.write_bytes(body)
    return path


@pytest.fixture
def no_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the (header-only) model would be a model call: make it fail the test."""

    def refuse(self: LlamaCppBackend) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(LlamaCppBackend, "_llama", refuse)


@pytest.mark.usefixtures("no_loading")
async def test_a_chat_suite_on_a_base_model_is_refused_naming_the_variant(tmp_path: Path) -> None:
    backend = LlamaCppBackend(base_model_file(tmp_path / "base.gguf"))
    request = EvalRequest(
        model=f"llamacpp:{backend.path}",
        suite="gsm8k",
        data=SHARED_DATA / "gsm8k",
        output=tmp_path / "out",
    )
    with pytest.raises(SpecError) as info:
        await evaluate(request, backend=backend)
    assert "suite gsm8k needs a chat template; this model has none; use gsm8k-completion" in str(
        info.value
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.usefixtures("no_loading")
def test_the_cli_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    path = base_model_file(tmp_path / "base.gguf")
    result = CliRunner().invoke(
        app,
        ["eval", "--model", f"llamacpp:{path}", "--suite", "default", "-o", str(tmp_path / "o")],
    )
    assert result.exit_code == 3
    assert "needs a chat template; this model has none; use default-completion" in result.output


async def test_a_misaligned_endpoint_is_refused_for_a_loglikelihood_suite(tmp_path: Path) -> None:
    items: list[dict[str, object]] = [
        {"id": "c1", "input": "Capital of France?", "choices": ["Paris", "Lyon"], "answer_index": 0}
    ]
    suite = write_suite(tmp_path / "suite", items, scorer="choice_loglikelihood", kind="completion")
    async with FakeOpenAIServer(quirks=["shifted-echo-logprobs"]) as srv:
        request = EvalRequest(
            model=f"openai://127.0.0.1:{srv.port}/v1?model={srv.model}",
            suite=str(suite),
            output=tmp_path / "out",
        )
        with pytest.raises(LoglikelihoodRefused, match="misaligned prompt log-probabilities"):
            await evaluate(request)
        units = [r for r in srv.requests if r.idempotency_key is not None]
    assert units == []
    assert not (tmp_path / "out").exists()


async def test_the_result_records_what_the_endpoint_was_sent_and_found(tmp_path: Path) -> None:
    items: list[dict[str, object]] = [
        {"id": "c1", "input": "Capital of France?", "choices": ["Paris", "Lyon"], "answer_index": 0}
    ]
    suite = write_suite(tmp_path / "suite", items, scorer="choice_loglikelihood", kind="completion")
    async with FakeOpenAIServer() as srv:
        # api=chat: the probe is not part of identification, so it is added after it.
        request = EvalRequest(
            model=f"openai://127.0.0.1:{srv.port}/v1?model={srv.model}&server=vllm",
            suite=str(suite),
            output=tmp_path / "out",
        )
        outcome = await evaluate(request)
    details = outcome.result.model["details"]
    assert details["loglikelihood_alignment"].startswith("aligned: ")
    assert "repetition_penalty=1.0" in details["sampler_sent"]
    assert details["server_family"] == "vllm"
