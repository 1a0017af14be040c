"""ModelRef: every accepted spelling, and a clear refusal (never echoing a secret) for the rest."""

from __future__ import annotations

import pytest

from llmcert.errors import ModelRefError
from llmcert.models import EMBEDDED_MODELS, ModelRef

SECRET = "sk-live-DO-NOT-PRINT-9f1c"


@pytest.mark.parametrize(
    ("text", "scheme", "target", "params"),
    [
        ("embedded", "embedded", "smollm2", {}),
        ("  embedded  ", "embedded", "smollm2", {}),
        ("embedded:smollm2", "embedded", "smollm2", {}),
        ("embedded:gemma3-270m", "embedded", "gemma3-270m", {}),
        ("llamacpp:models/tiny.gguf", "llamacpp", "models/tiny.gguf", {}),
        ("llamacpp:/abs/path/x.gguf", "llamacpp", "/abs/path/x.gguf", {}),
        (
            "llamacpp:m.gguf?n_ctx=8192&threads=4",
            "llamacpp",
            "m.gguf",
            {"n_ctx": "8192", "threads": "4"},
        ),
        ("embedded?n_ctx=8192", "embedded", "smollm2", {"n_ctx": "8192"}),
        ("embedded:gemma3-270m?threads=2", "embedded", "gemma3-270m", {"threads": "2"}),
        (
            "openai://127.0.0.1:8000/v1?model=m&server=llamacpp",
            "openai",
            "http://127.0.0.1:8000/v1",
            {"model": "m", "server": "llamacpp"},
        ),
        ("mock:echo", "mock", "echo", {}),
        ("mock:answer=42", "mock", "answer=42", {}),
        ("mock:", "mock", "echo", {}),
        (
            "openai://127.0.0.1:8000/v1?model=fake",
            "openai",
            "http://127.0.0.1:8000/v1",
            {"model": "fake"},
        ),
        (
            "openai://localhost:8000/v1/?model=fake",
            "openai",
            "http://localhost:8000/v1",
            {"model": "fake"},
        ),
        (
            "openai+http://127.0.0.1:9/v1?model=m&api=completions",
            "openai",
            "http://127.0.0.1:9/v1",
            {"model": "m", "api": "completions"},
        ),
        (
            "openai+https://api.example.com/v1?model=gpt-x&key_env=MY_KEY&timeout=2.5",
            "openai",
            "https://api.example.com/v1",
            {"model": "gpt-x", "key_env": "MY_KEY", "timeout": "2.5"},
        ),
        (
            "openai://[::1]:8000/v1?model=m",
            "openai",
            "http://[::1]:8000/v1",
            {"model": "m"},
        ),
        (
            "openai+https://[2001:db8::7]/v1?model=m",
            "openai",
            "https://[2001:db8::7]/v1",
            {"model": "m"},
        ),
        (
            "openai://host:1234/v1?model=m&api=chat",
            "openai",
            "http://host:1234/v1",
            {"model": "m", "api": "chat"},
        ),
    ],
)
def test_accepted_forms(text: str, scheme: str, target: str, params: dict[str, str]) -> None:
    ref = ModelRef.parse(text)
    assert (ref.scheme, ref.target, ref.params) == (scheme, target, params)
    assert str(ref) == text.strip()


def test_every_embedded_model_is_accepted_by_name() -> None:
    for name in EMBEDDED_MODELS:
        assert ModelRef.parse(f"embedded:{name}").target == name


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_reference_is_refused(text: str) -> None:
    with pytest.raises(ModelRefError, match="empty model reference"):
        ModelRef.parse(text)


@pytest.mark.parametrize("text", ["gpt4", "foo:bar", "http://127.0.0.1:8000/v1?model=m", "hf2:x"])
def test_unknown_scheme_lists_the_accepted_forms(text: str) -> None:
    with pytest.raises(ModelRefError) as info:
        ModelRef.parse(text)
    message = str(info.value)
    for form in ("embedded", "llamacpp:PATH.gguf", "openai://HOST:PORT/v1?model=NAME", "mock:NAME"):
        assert form in message


def test_unknown_embedded_model_names_the_known_ones() -> None:
    with pytest.raises(ModelRefError) as info:
        ModelRef.parse("embedded:llama-70b")
    assert "llama-70b" in str(info.value)
    for name in EMBEDDED_MODELS:
        assert name in str(info.value)


def test_llamacpp_needs_a_path() -> None:
    with pytest.raises(ModelRefError, match=r"\.gguf"):
        ModelRef.parse("llamacpp:")


@pytest.mark.parametrize(
    "text",
    ["openai://127.0.0.1:8000/v1", "openai://127.0.0.1:8000/v1?model=", "openai://h/v1?api=chat"],
)
def test_openai_without_model_is_refused(text: str) -> None:
    with pytest.raises(ModelRefError, match=r"model=NAME"):
        ModelRef.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        f"openai://user:{SECRET}@127.0.0.1:8000/v1?model=m",
        f"openai+https://{SECRET}@api.example.com/v1?model=m",
    ],
)
def test_credentials_in_the_url_are_refused(text: str) -> None:
    with pytest.raises(ModelRefError) as info:
        ModelRef.parse(text)
    message = str(info.value)
    assert "environment" in message
    assert SECRET not in message


@pytest.mark.parametrize("name", ["api_key", "API_KEY", "token", "apikey", "access_token", "key"])
def test_key_parameters_are_refused_and_point_to_the_environment(name: str) -> None:
    with pytest.raises(ModelRefError) as info:
        ModelRef.parse(f"openai://127.0.0.1:8000/v1?model=m&{name}={SECRET}")
    message = str(info.value)
    assert "environment" in message
    assert "LLMCERT_API_KEY" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "text",
    [
        # Broken in some other way too: the refusal must still not repeat the key.
        f"openai:///v1?model=m&api_key={SECRET}",
        f"openai:nohost?api_key={SECRET}",
        f"openai://127.0.0.1:8000/v1?api_key={SECRET}",
        f"openai://127.0.0.1:8000/v1?model=m&colour=red&token={SECRET}",
        f"openai://127.0.0.1:8000/v1?model=m&api=other&api_key={SECRET}",
    ],
)
def test_a_refused_reference_never_repeats_a_key(text: str) -> None:
    with pytest.raises(ModelRefError) as info:
        ModelRef.parse(text)
    assert SECRET not in str(info.value)


def test_unknown_parameters_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ModelRefError) as info:
        ModelRef.parse("openai://127.0.0.1:8000/v1?model=m&temprature=0.5")
    message = str(info.value)
    assert "temprature" in message
    for known in ("api", "key_env", "model", "timeout"):
        assert known in message


@pytest.mark.parametrize("text", ["llamacpp:m.gguf?n_gpu_layers=9", "embedded:smollm2?ctx=1"])
def test_unknown_in_process_parameters_are_refused(text: str) -> None:
    with pytest.raises(ModelRefError, match="known: n_ctx, threads"):
        ModelRef.parse(text)


def test_api_must_be_chat_or_completions() -> None:
    with pytest.raises(ModelRefError, match=r"'chat' or 'completions'.*'other'"):
        ModelRef.parse("openai://127.0.0.1:8000/v1?model=m&api=other")


@pytest.mark.parametrize(
    "text",
    ["openai://127.0.0.1:notaport/v1?model=m", "openai://127.0.0.1:99999/v1?model=m"],
)
def test_a_bad_port_is_a_model_ref_error(text: str) -> None:
    # A plain ValueError would escape the CLI's error rendering as a traceback.
    with pytest.raises(ModelRefError):
        ModelRef.parse(text)
