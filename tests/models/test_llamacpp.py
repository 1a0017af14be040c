"""The in-process llama.cpp backend: references, identity, generation, log-likelihoods.

Tests marked ``embedded`` run the real SmolLM2 and Gemma 3 270M GGUF models; a
missing model fails them with the install command instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.special import log_softmax

from llmcert.errors import IdentityChanged, ModelRefError, RequestRejected
from llmcert.models import (
    ChatMessage,
    GenerateRequest,
    GenerationSettings,
    LoglikelihoodRequest,
    ModelBackend,
    ModelRef,
    WhiteBoxBackend,
)
from llmcert.models.embedded import embedded_model_path
from llmcert.models.llamacpp import LlamaCppBackend
from llmcert.models.llamacpp._gguf import read_gguf_metadata
from llmcert.models.llamacpp._loglik import log_softmax_at
from llmcert.models.llamacpp._prefix import MAX_CHUNK, chunks, find_anchor

CONTEXT = (
    "Q: What happens to you if you eat watermelon seeds?\n"
    "A: The watermelon seeds pass through your digestive system.\n"
    "Q: Where is the Eiffel Tower?\n"
    "A:"
)
CONTINUATIONS = (" In Paris.", " In Rome, next to the Colosseum.", " Nowhere")


def _settings(**values: Any) -> GenerationSettings:
    return GenerationSettings.model_validate(values)


# -- a hand-built GGUF header, to test the reader without a model ------------------


def _gguf_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _write_gguf(path: Path, kv: list[tuple[str, int, bytes]], truncate: int = 0) -> Path:
    body = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv))
    for key, vtype, payload in kv:
        body += _gguf_string(key) + struct.pack("<I", vtype) + payload
    path.write_bytes(body[: len(body) - truncate] if truncate else body)
    return path


def _sample_kv(template: str | None) -> list[tuple[str, int, bytes]]:
    tokens = b"".join(_gguf_string(t) for t in ("<s>", "a", "b"))
    kv = [
        ("general.architecture", 8, _gguf_string("llama")),
        ("llama.context_length", 4, struct.pack("<I", 2048)),
        ("tokenizer.ggml.add_bos_token", 7, struct.pack("<?", True)),
        ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + tokens),
        ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0, 1, 2)),
        ("general.rope_scale", 6, struct.pack("<f", 0.5)),
    ]
    if template is not None:
        kv.append(("tokenizer.chat_template", 8, _gguf_string(template)))
    return kv


def test_gguf_reader_parses_scalars_and_skips_arrays(tmp_path: Path) -> None:
    meta = read_gguf_metadata(_write_gguf(tmp_path / "m.gguf", _sample_kv("{{ messages }}")))
    assert meta.version == 3
    assert meta.architecture == "llama"
    assert meta.values["llama.context_length"] == 2048
    assert meta.values["tokenizer.ggml.add_bos_token"] is True
    assert meta.values["general.rope_scale"] == pytest.approx(0.5)
    assert meta.array_lengths == {"tokenizer.ggml.tokens": 3, "tokenizer.ggml.scores": 3}
    assert meta.chat_template == "{{ messages }}"
    assert (
        read_gguf_metadata(_write_gguf(tmp_path / "b.gguf", _sample_kv(None))).chat_template is None
    )


def test_non_gguf_file_is_a_model_ref_error(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 a zip renamed to .gguf")
    with pytest.raises(ModelRefError, match="not a GGUF file"):
        LlamaCppBackend.from_ref(ModelRef.parse(f"llamacpp:{fake}"))


def test_missing_file_is_a_model_ref_error(tmp_path: Path) -> None:
    with pytest.raises(ModelRefError, match="not found"):
        LlamaCppBackend.from_ref(ModelRef.parse(f"llamacpp:{tmp_path / 'absent.gguf'}"))


def test_truncated_gguf_header_is_a_model_ref_error(tmp_path: Path) -> None:
    path = _write_gguf(tmp_path / "t.gguf", _sample_kv("x"), truncate=3)
    with pytest.raises(ModelRefError, match="cannot read GGUF metadata"):
        LlamaCppBackend(path)


def test_context_below_llama_cpp_minimum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 256"):
        LlamaCppBackend(_write_gguf(tmp_path / "c.gguf", _sample_kv(None)), n_ctx=64)


def test_chat_support_comes_from_the_template(tmp_path: Path) -> None:
    with_template = LlamaCppBackend(_write_gguf(tmp_path / "c.gguf", _sample_kv("{{ x }}")))
    without = LlamaCppBackend(_write_gguf(tmp_path / "b.gguf", _sample_kv(None)))
    assert with_template.supports_chat is True
    assert without.supports_chat is False
    assert with_template.max_concurrency == 1
    assert isinstance(with_template, ModelBackend)


async def test_chat_on_a_base_model_is_rejected_before_loading(tmp_path: Path) -> None:
    backend = LlamaCppBackend(_write_gguf(tmp_path / "b.gguf", _sample_kv(None)))
    request = GenerateRequest(_settings(), messages=(ChatMessage("user", "hi"),))
    with pytest.raises(RequestRejected, match="no chat template"):
        await backend.generate(request)
    with pytest.raises(RequestRejected, match="no chat template"):
        await backend.chat_prompt(request.messages or ())


@pytest.mark.embedded
async def test_the_rendered_chat_prompt_is_what_chat_requests_send(
    smollm2: LlamaCppBackend,
) -> None:
    """White-box attacks continue from the rendered conversation: with nothing appended it
    must answer as the chat request does; with a prefix, the answer continues it."""
    messages = (ChatMessage("user", "Name a colour."),)
    rendered = await smollm2.chat_prompt(messages)
    assert isinstance(smollm2, WhiteBoxBackend)
    assert rendered.endswith("<|im_start|>assistant\n")
    assert "Name a colour." in rendered
    settings = _settings(max_tokens=12, temperature=0.0)
    chat = await smollm2.generate(GenerateRequest(settings, messages=messages))
    completion = await smollm2.generate(GenerateRequest(settings, prompt=rendered))
    assert completion.text == chat.text
    assert completion.prompt_tokens == chat.prompt_tokens
    forced = await smollm2.generate(GenerateRequest(settings, prompt=rendered + "Sure, here is"))
    assert forced.text != chat.text


def test_log_softmax_at_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    row = (rng.standard_normal(5000) * 8).astype(np.float32)
    reference = log_softmax(row.astype(np.float64))
    for target in (0, 17, int(row.argmax())):
        lp, greedy = log_softmax_at(row, target)
        assert lp == pytest.approx(reference[target], abs=1e-9)
        assert greedy == (target == int(row.argmax()))


@pytest.mark.parametrize(
    ("start", "anchor", "end"),
    [(0, 0, 1), (0, 20, 33), (20, 20, 700), (0, 600, 1300), (0, 0, 1100)],
)
def test_prefix_chunks_tile_the_range_and_split_at_the_anchor(
    start: int, anchor: int, end: int
) -> None:
    out = chunks(start, anchor, end)
    assert [lo for lo, _ in out] == [start, *[hi for _, hi in out[:-1]]]
    assert out[-1][1] == end
    assert all(hi - lo <= MAX_CHUNK for lo, hi in out)
    if 0 < anchor < end:
        assert any(hi == anchor for _, hi in out) or start == anchor
    # the layout of [anchor, end) is the same whether or not the first chunk is reused
    assert [c for c in chunks(0, anchor, end) if c[0] >= anchor] == chunks(anchor, anchor, end)


def test_anchor_is_where_the_last_message_begins() -> None:
    preamble, message, tail = [1, 2, 3, 10], [40, 41, 42], [11, 12]
    prompt = preamble + message + tail
    assert find_anchor(prompt, message) == len(preamble)
    # alone, the message's first token may differ from its tokens in context
    assert find_anchor(prompt, [99, 41, 42]) == len(preamble)
    assert find_anchor(prompt, [7, 8, 9]) == 0
    assert find_anchor(prompt + message + tail, message) == len(prompt + preamble) - len(preamble)


# -- the real embedded models --------------------------------------------------------


def _model_path(name: str) -> Path:
    try:
        return embedded_model_path(name)
    except ModelRefError as exc:
        pytest.fail(f"embedded model {name!r} is required: {exc}")


def _llama(path: Path, **kwargs: Any) -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        pytest.fail(f'llama-cpp-python is required: pip install "llmcert[embedded]" ({exc})')
    return llama_cpp.Llama(model_path=str(path), **kwargs)


@pytest.fixture(scope="module")
def smollm2() -> Iterator[LlamaCppBackend]:
    _model_path("smollm2")
    backend = LlamaCppBackend.from_ref(ModelRef.parse("embedded"))
    yield backend
    backend._close_sync()


@pytest.fixture(scope="module")
def gemma() -> Iterator[LlamaCppBackend]:
    _model_path("gemma3-270m")
    backend = LlamaCppBackend.from_ref(ModelRef.parse("embedded:gemma3-270m"))
    yield backend
    backend._close_sync()


def _reference_scores(backend: LlamaCppBackend) -> list[tuple[float, int, bool]]:
    """Hand-computed log P(continuation | context) from a logits_all evaluation."""
    llm = _llama(backend.path, logits_all=True, **backend.llama_kwargs())
    out = []
    try:
        for continuation in CONTINUATIONS:
            whole = llm.tokenize((CONTEXT + continuation).encode(), add_bos=True, special=True)
            n_context = len(llm.tokenize(CONTEXT.encode(), add_bos=True, special=True))
            llm.reset()
            llm.eval(whole)
            # Row p holds the distribution of the token at position p + 1.
            rows = log_softmax(np.asarray(llm.scores[: len(whole)], dtype=np.float64), axis=1)
            targets = range(n_context, len(whole))
            total = sum(rows[t - 1, whole[t]] for t in targets)
            greedy = all(int(np.argmax(rows[t - 1])) == whole[t] for t in targets)
            # The misaligned variant (each token scored by its own row) must differ,
            # or this reference would not catch an off-by-one.
            shifted = sum(rows[t, whole[t]] for t in targets)
            assert abs(shifted - total) > 0.5
            out.append((float(total), len(whole) - n_context, greedy))
    finally:
        llm.close()
    return out


@pytest.mark.embedded
@pytest.mark.parametrize("model", ["smollm2", "gemma"])
async def test_loglikelihood_matches_hand_computed_reference(
    model: str, request: pytest.FixtureRequest
) -> None:
    backend: LlamaCppBackend = request.getfixturevalue(model)
    got = await backend.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS))
    expected = _reference_scores(backend)
    assert got.token_counts == tuple(n for _, n, _ in expected)
    assert got.is_greedy == tuple(g for _, _, g in expected)
    for value, (ref, _, _) in zip(got.logprobs, expected, strict=True):
        assert value == pytest.approx(ref, abs=1e-3)
    # Which answer the model prefers is the reference's (computed here, on this
    # machine's kernels), not a ranking pinned from another CPU.
    ranked = sorted(range(len(CONTINUATIONS)), key=lambda i: got.logprobs[i])
    assert ranked == sorted(range(len(CONTINUATIONS)), key=lambda i: expected[i][0])


@pytest.mark.embedded
async def test_loglikelihood_does_not_depend_on_request_order(gemma: LlamaCppBackend) -> None:
    a = LoglikelihoodRequest(CONTEXT, CONTINUATIONS[:2])
    b = LoglikelihoodRequest(CONTEXT + " Paris.\nQ: And the Colosseum?\nA:", (" In Rome.",))
    first_a, first_b = await gemma.loglikelihood(a), await gemma.loglikelihood(b)
    await gemma.generate(GenerateRequest(_settings(max_tokens=4), prompt=CONTEXT))
    second_b, second_a = await gemma.loglikelihood(b), await gemma.loglikelihood(a)
    assert first_a == second_a
    assert first_b == second_b


@pytest.mark.embedded
async def test_generation_is_deterministic_and_equals_direct_llama_cpp(
    smollm2: LlamaCppBackend,
) -> None:
    settings = _settings(max_tokens=16, temperature=0.0)
    ask = GenerateRequest(settings, messages=(ChatMessage("user", "Name a colour."),))
    other = GenerateRequest(settings, messages=(ChatMessage("user", "Name a fruit."),))
    first = await smollm2.generate(ask)
    await smollm2.generate(other)  # shares the chat-template prefix with `ask`
    again = await smollm2.generate(ask)
    assert first == again
    assert first.text
    assert first.completion_tokens is not None
    assert 0 < first.completion_tokens <= 16

    # The shared chat preamble is reused, not decoded again.
    assert smollm2._prefix is not None
    decoded: list[int] = []
    inner = smollm2._prefix._eval

    def spy(tokens: Sequence[int]) -> None:
        decoded.append(len(tokens))
        inner(tokens)

    smollm2._prefix._eval = spy
    try:
        assert await smollm2.generate(ask) == first
    finally:
        smollm2._prefix._eval = inner
    assert first.prompt_tokens is not None
    assert decoded[0] < first.prompt_tokens

    direct = _llama(smollm2.path, **smollm2.llama_kwargs())
    try:
        out = direct.create_chat_completion(
            messages=[{"role": "user", "content": "Name a colour."}], temperature=0.0, max_tokens=16
        )
    finally:
        direct.close()
    assert out["choices"][0]["message"]["content"] == first.text
    assert out["choices"][0]["finish_reason"] == first.finish_reason


@pytest.mark.embedded
async def test_gemma_completes_but_refuses_chat(gemma: LlamaCppBackend) -> None:
    assert gemma.supports_chat is False
    settings = _settings(max_tokens=4)
    with pytest.raises(RequestRejected, match="completion prompts"):
        await gemma.generate(GenerateRequest(settings, messages=(ChatMessage("user", "hi"),)))
    out = await gemma.generate(GenerateRequest(settings, prompt="The capital of France is"))
    # At most the 4 tokens asked for; fewer only if the model chose to stop.
    assert out.completion_tokens is not None
    assert 1 <= out.completion_tokens <= 4
    assert out.finish_reason in ("length", "stop")
    if out.finish_reason == "length":
        assert out.completion_tokens == 4
    assert out.prompt_tokens is not None


@pytest.mark.embedded
async def test_identity_is_stable_and_follows_the_file(tmp_path: Path) -> None:
    copy = tmp_path / "model.gguf"
    shutil.copyfile(_model_path("smollm2"), copy)
    first = await LlamaCppBackend(copy).identify()
    backend = LlamaCppBackend(copy)
    same = await backend.identify()
    assert first == same
    assert first.kind == "artefact"
    assert first.engine is not None
    assert first.engine.startswith("llama-cpp-python ")
    assert first.chat_template_digest is not None
    assert first.details["architecture"] == "llama"

    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    backend.verify_unchanged()  # touched, same bytes: not a change

    with copy.open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(IdentityChanged, match="changed during the run"):
        backend.verify_unchanged()
    with pytest.raises(IdentityChanged):
        await backend.generate(GenerateRequest(_settings(max_tokens=1), prompt="x"))
    changed = await LlamaCppBackend(copy).identify()
    assert changed.artefact_digest != first.artefact_digest
    assert changed.digest != first.digest


@pytest.mark.embedded
async def test_gemma_identity_has_no_chat_template(gemma: LlamaCppBackend) -> None:
    identity = await gemma.identify()
    assert identity.chat_template_digest is None
    assert identity.details["embedded"] == "gemma3-270m"
    assert identity.details["add_bos_token"] == "True"


@pytest.mark.embedded
async def test_prompt_longer_than_context_is_rejected() -> None:
    backend = LlamaCppBackend(_model_path("smollm2"), n_ctx=256)
    try:
        long_text = "one two three four five six seven eight nine ten " * 30
        with pytest.raises(RequestRejected, match="context"):
            await backend.generate(GenerateRequest(_settings(max_tokens=4), prompt=long_text))
        with pytest.raises(RequestRejected, match="context window"):
            await backend.loglikelihood(LoglikelihoodRequest(long_text, (" eleven",)))
    finally:
        await backend.aclose()


@pytest.mark.embedded
def test_hardware_class_is_the_build_in_use(smollm2: LlamaCppBackend) -> None:
    """The recorded class names the libraries really loaded, so a test run on the
    reference build (LLAMA_CPP_LIB_PATH) cannot silently fall back to the native one."""
    from llmcert.services._hardware import hardware_class

    hc = hardware_class(smollm2)
    assert hc is not None
    assert hc.engine == "llama.cpp"
    assert any(f.startswith("CPU:") for f in hc.features)
    assert hc.build["kernels_sha256"].startswith("sha256:")
    override = os.environ.get("LLAMA_CPP_LIB_PATH")
    if override is None:
        assert hc.build["library_override"] == "none"
        return
    assert hc.build["library_override"] == override
    assert Path(hc.build["library_dir"]).resolve() == Path(override).resolve()
    stamp = Path(override).parent.parent / "llmcert-reference.txt"
    if stamp.is_file() and "x86-64-v3" in stamp.read_text(encoding="utf-8"):
        # scripts/llama-reference-build: AVX2 kernels, never AVX-512.
        assert "CPU:AVX2" in hc.features
        assert not any(f.startswith("CPU:AVX512") for f in hc.features)


# -- threads and context window ------------------------------------------------------


def test_threads_default_to_physical_cores_and_follow_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcert.models.llamacpp._host import THREADS_ENV, _physical_cores

    path = _write_gguf(tmp_path / "m.gguf", _sample_kv(None))
    monkeypatch.delenv(THREADS_ENV, raising=False)
    default = LlamaCppBackend(path)
    assert default.n_threads == _physical_cores() >= 1
    assert default.llama_kwargs()["n_threads"] == default.llama_kwargs()["n_threads_batch"]
    assert default.run_conditions()["threads_source"] == "physical cores"
    monkeypatch.setenv(THREADS_ENV, "3")
    assert LlamaCppBackend(path).n_threads == 3
    assert LlamaCppBackend(path).run_conditions()["threads_source"] == THREADS_ENV
    # A reference names the count outright, above the environment.
    ref = LlamaCppBackend.from_ref(ModelRef.parse(f"llamacpp:{path}?threads=1&n_ctx=8192"))
    assert (ref.n_threads, ref.n_ctx) == (1, 8192)
    assert ref.run_conditions() == {
        "context_length": "8192",
        "threads": "1",
        "threads_source": "model reference",
        "sampler": "min_p=0.0 repeat_penalty=1.0 top_k=0",
    }
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(ModelRefError, match="LLMCERT_THREADS"):
        LlamaCppBackend(path)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("threads=0", "threads must be a positive whole number"),
        ("n_ctx=lots", "n_ctx must be a positive whole number"),
        ("n_ctx=128", "n_ctx must be at least 256"),
    ],
)
def test_bad_threads_or_context_in_a_reference_are_refused(
    tmp_path: Path, query: str, message: str
) -> None:
    path = _write_gguf(tmp_path / "m.gguf", _sample_kv(None))
    with pytest.raises(ModelRefError, match=message):
        LlamaCppBackend.from_ref(ModelRef.parse(f"llamacpp:{path}?{query}"))


@pytest.mark.embedded
@pytest.mark.parametrize("name", ["smollm2", "gemma3-270m"])
async def test_results_are_bit_identical_across_thread_counts(name: str) -> None:
    _model_path(name)
    one = LlamaCppBackend.from_ref(ModelRef.parse(f"embedded:{name}?threads=1"))
    two = LlamaCppBackend.from_ref(ModelRef.parse(f"embedded:{name}?threads=2&n_ctx=8192"))
    settings = _settings(max_tokens=24, temperature=0.0)
    ask = GenerateRequest(settings, prompt="The three primary colours are")
    try:
        identity = await two.identify()
        assert identity.details["threads"] == "2"
        assert identity.details["context_length"] == "8192"
        scores = [
            await b.loglikelihood(LoglikelihoodRequest(CONTEXT, CONTINUATIONS)) for b in (one, two)
        ]
        texts = [await b.generate(ask) for b in (one, two)]
    finally:
        await one.aclose()
        await two.aclose()
    assert scores[0] == scores[1]  # exactly: floats compared bit for bit
    assert texts[0] == texts[1]
    assert texts[0].text
