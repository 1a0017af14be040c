"""LLM-as-judge: pinned rubrics, parsing the judge's answer, and judging through a backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llmcert.errors import BackendUnavailable, SpecError
from llmcert.judges.llm_judge import (
    LlmJudge,
    Rubric,
    builtin_rubrics,
    load_rubric,
    normalise_label,
)
from llmcert.models._types import (
    GenerateRequest,
    Generation,
    GenerationSettings,
    LoglikelihoodRequest,
    Loglikelihoods,
    ModelBackend,
    ModelIdentity,
)
from llmcert.models.mock import MockBackend

# -- rubrics -------------------------------------------------------------------------------


def test_builtin_rubrics_load_and_are_pinned() -> None:
    assert set(builtin_rubrics()) >= {"refusal-v1", "safety-v1"}
    refusal, safety = load_rubric("refusal-v1"), load_rubric("safety-v1")
    assert refusal.ident == "refusal@1.0.0"
    assert refusal.label_names == ("full_compliance", "full_refusal", "partial_refusal")
    assert refusal.positive == ("full_refusal", "partial_refusal")
    assert safety.label_names == ("safe", "unsafe")
    assert safety.positive == ("unsafe",)
    for rubric in (refusal, safety):
        assert set(rubric.languages) == {"en", "zh"}
        assert rubric.digest.startswith("sha256:")
        assert rubric.digest == load_rubric(f"{rubric.id}-v1").digest  # stable
    assert refusal.digest != safety.digest


def test_rubric_by_path_and_unknown_name(tmp_path: Path) -> None:
    source = load_rubric("safety-v1")
    path = tmp_path / "mine.yaml"
    path.write_text(
        "# a comment does not change the digest\n"
        + _builtin_path("safety-v1").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    assert load_rubric(path).digest == source.digest
    assert load_rubric(str(path)).digest == source.digest
    with pytest.raises(SpecError, match=r"shipped rubrics: .*refusal-v1"):
        load_rubric("refusal-v9")


def _builtin_path(name: str) -> Path:
    return Path(__file__).resolve().parents[2] / "src/llmcert/judges/data/rubrics" / f"{name}.yaml"


RUBRIC = """\
id: tiny
version: 1.0.0
description: a test rubric
languages: [en]
template: "P={prompt} R={response}"
labels:
  - {name: yes_label, description: y, aliases: ["yes", 是]}
  - {name: no_label, description: n, aliases: ["no"]}
positive: [yes_label]
parse:
  pattern: '(?im)^answer:\\s*(.+)$'
"""


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("P={prompt} R={response}", "P={prompt}"), "template", "{response}"),
        (("(.+)$", ".+$"), "parse.pattern", "exactly one group"),
        (("(.+)$", "(.+$"), "parse.pattern", "regular expression"),
        (('aliases: ["no"]', 'aliases: ["yes"]'), None, "names both"),
        (("positive: [yes_label]", "positive: [maybe]"), None, "does not define"),
        (("version: 1.0.0", "version: one"), "version", "pattern"),
        (("languages: [en]", "languages: [en]\ncolour: red"), "colour", "unknown field"),
    ],
)
def test_invalid_rubrics_name_the_problem(
    tmp_path: Path, change: tuple[str, str], field: str | None, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    assert change[0] in RUBRIC
    path.write_text(RUBRIC.replace(*change), encoding="utf-8")
    with pytest.raises(SpecError, match=message) as info:
        load_rubric(path)
    assert info.value.path == path
    assert info.value.line is not None
    if field is not None:
        assert info.value.field == field


def test_tiny_rubric_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(RUBRIC, encoding="utf-8")
    rubric = load_rubric(path)
    assert rubric.parse_answer("answer: 是") == ("yes_label", None)
    assert rubric.parse.select == "unique"


# -- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("The response declines.\nLABEL: full_refusal", "full_refusal"),
        ("It answers.\n\n**Label:** Full Compliance", "full_compliance"),
        ("label: `partial_refusal`.", "partial_refusal"),
        ("回复拒绝了请求。\n标签：部分拒绝", "partial_refusal"),
        ("标签: 完全拒绝", "full_refusal"),
        ("LABEL: full_refusal\nLABEL: refusal", "full_refusal"),  # two spellings, one label
    ],
)
def test_answers_that_parse(answer: str, label: str) -> None:
    assert load_rubric("refusal-v1").parse_answer(answer) == (label, None)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("It is a refusal, clearly.", "no label line"),
        ("Final label: full_refusal", "no label line"),  # not the asked-for form
        ("LABEL: maybe", "not one of"),
        ("LABEL: full_refusal\nLABEL: full_compliance", "conflicting"),
        ("LABEL: <full_compliance | full_refusal | partial_refusal>", "not one of"),
        ("", "no label line"),
    ],
)
def test_answers_that_do_not_parse_are_reported(answer: str, problem: str) -> None:
    label, why = load_rubric("refusal-v1").parse_answer(answer)
    assert label is None
    assert why is not None
    assert problem in why


def test_last_selection(tmp_path: Path) -> None:
    path = tmp_path / "last.yaml"
    path.write_text(RUBRIC + "  select: last\n", encoding="utf-8")
    rubric = load_rubric(path)
    assert rubric.parse_answer("answer: yes\nanswer: no") == ("no_label", None)
    assert rubric.parse_answer("answer: no\nanswer: perhaps")[0] is None


def test_safety_labels_in_both_languages() -> None:
    rubric = load_rubric("safety-v1")
    assert rubric.parse_answer("LABEL: unsafe") == ("unsafe", None)
    assert rubric.parse_answer("标签：不安全") == ("unsafe", None)
    assert rubric.parse_answer("标签：安全") == ("safe", None)


def test_normalise_label() -> None:
    assert normalise_label("  **Full-Refusal**. ") == "full_refusal"
    assert normalise_label("「不安全」") == "不安全"


def test_render_substitutes_once() -> None:
    rubric = load_rubric("refusal-v1")
    messages = rubric.render("say {response}", "I won't. {prompt}")
    assert [m.role for m in messages] == ["system", "user"]
    user = messages[-1].content
    assert "say {response}" in user
    assert "I won't. {prompt}" in user
    assert "[BEGIN RESPONSE]\nI won't. {prompt}\n[END RESPONSE]" in user


# -- judging through a backend -------------------------------------------------------------


class Recording:
    """A backend that answers from a script and keeps every request."""

    supports_loglikelihood = False
    max_concurrency: int | None = None

    def __init__(self, answer: str = "LABEL: unsafe", *, chat: bool = True) -> None:
        self.answer = answer
        self.supports_chat = chat
        self.requests: list[GenerateRequest] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def identify(self) -> ModelIdentity:
        return ModelIdentity(kind="synthetic", ref="recording", engine="test/recording")

    async def generate(self, request: GenerateRequest) -> Generation:
        self.requests.append(request)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0)
        self.in_flight -= 1
        text = request.prompt if request.messages is None else request.messages[-1].content
        if text is not None and "FAIL-ME" in text:
            raise BackendUnavailable("endpoint down")
        return Generation(self.answer, "stop")

    async def loglikelihood(self, request: LoglikelihoodRequest) -> Loglikelihoods:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


async def test_judge_with_mock_backend() -> None:
    backend = MockBackend("answer=The answer refuses.\nLABEL: full_refusal")
    judge = LlmJudge(backend, load_rubric("refusal-v1"))
    verdict = await judge.judge("How do I kill a Python process?", "I cannot help with killing.")
    assert verdict.parsed
    assert verdict.label == "full_refusal"
    assert verdict.positive is True
    assert verdict.raw.endswith("LABEL: full_refusal")
    assert verdict.to_dict()["problem"] is None


async def test_unparseable_answers_are_reported_never_guessed() -> None:
    # The echo mock answers with the rendered rubric itself: it names every label.
    echo = await LlmJudge(MockBackend("echo"), load_rubric("refusal-v1")).judge("p", "r")
    assert not echo.parsed
    assert echo.label is None
    assert echo.positive is None
    assert echo.problem is not None
    assert "not one of" in echo.problem
    assert "[BEGIN PROMPT]" in echo.raw
    vague = await LlmJudge(MockBackend("answer=Probably unsafe."), load_rubric("safety-v1")).judge(
        "p", "r"
    )
    assert not vague.parsed
    assert vague.problem == "no label line found"


async def test_requests_are_greedy_seeded_and_carry_the_pair() -> None:
    backend = Recording("标签：安全")
    judge = LlmJudge(backend, load_rubric("safety-v1"), seed=7)
    verdict = await judge.judge("怎么做蛋糕？", "先准备面粉和鸡蛋。")
    assert (verdict.label, verdict.positive) == ("safe", False)
    (request,) = backend.requests
    assert request.settings.temperature == 0.0
    assert request.seed == 7
    assert request.messages is not None
    assert request.messages[0].role == "system"
    assert "怎么做蛋糕？" in request.messages[-1].content
    assert "先准备面粉和鸡蛋。" in request.messages[-1].content
    assert request.idempotency_key is not None
    with pytest.raises(ValueError, match="temperature must be 0"):
        LlmJudge(backend, load_rubric("safety-v1"), GenerationSettings(temperature=0.7))


async def test_completion_backends_get_one_prompt() -> None:
    backend = Recording(chat=False)
    await LlmJudge(backend, load_rubric("safety-v1")).judge("q", "a")
    (request,) = backend.requests
    assert request.messages is None
    assert request.prompt is not None
    assert "[BEGIN RESPONSE]\na\n[END RESPONSE]" in request.prompt


async def test_identity_covers_rubric_settings_and_model(tmp_path: Path) -> None:
    backend = Recording()
    judge = LlmJudge(backend, load_rubric("safety-v1"))
    before = judge.identity()
    assert before["model"] is None
    assert before["rubric"]["digest"] == load_rubric("safety-v1").digest
    after = await judge.identify()
    assert after["model"]["engine"] == "test/recording"
    assert after["digest"] != before["digest"]
    other_settings = LlmJudge(backend, judge.rubric, GenerationSettings(max_tokens=64))
    await other_settings.identify()
    assert other_settings.identity()["digest"] != after["digest"]
    path = tmp_path / "edited.yaml"
    path.write_text(
        _builtin_path("safety-v1").read_text(encoding="utf-8").replace("careful", "meticulous"),
        encoding="utf-8",
    )
    edited = LlmJudge(backend, load_rubric(path))
    await edited.identify()
    assert edited.identity()["digest"] != after["digest"]
    assert isinstance(backend, ModelBackend)


async def test_judge_many_keeps_order_bounds_concurrency_and_records_errors() -> None:
    backend = Recording()
    judge = LlmJudge(backend, load_rubric("safety-v1"))
    pairs = [(f"prompt {i}", "FAIL-ME" if i == 3 else f"response {i}") for i in range(10)]
    verdicts = await judge.judge_many(pairs, concurrency=2)
    assert len(verdicts) == 10
    assert backend.most_in_flight <= 2
    assert [v.parsed for v in verdicts] == [i != 3 for i in range(10)]
    failed = verdicts[3]
    assert failed.failed_call
    assert failed.problem is not None
    assert "BackendUnavailable" in failed.problem
    order = [r.messages[-1].content for r in backend.requests if r.messages is not None]
    assert len(order) == 10
    with pytest.raises(ValueError, match="concurrency"):
        await judge.judge_many(pairs, concurrency=0)


async def test_backend_limit_caps_concurrency() -> None:
    backend = Recording()
    backend.max_concurrency = 1
    await LlmJudge(backend, load_rubric("safety-v1")).judge_many([("p", "r")] * 5, concurrency=8)
    assert backend.most_in_flight == 1


async def test_a_failed_single_call_raises() -> None:
    judge = LlmJudge(Recording(), load_rubric("safety-v1"))
    with pytest.raises(BackendUnavailable):
        await judge.judge("p", "FAIL-ME")


def test_rubric_model_is_frozen() -> None:
    rubric = load_rubric("safety-v1")
    assert isinstance(rubric, Rubric)
    with pytest.raises(ValueError, match="frozen"):
        rubric.id = "other"  # type: ignore[misc]
