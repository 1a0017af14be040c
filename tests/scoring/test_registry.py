from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, ClassVar

import pytest

from llmcert.errors import SpecError
from llmcert.items._item import Item
from llmcert.models._types import ModelOutput
from llmcert.scoring import (
    BUILTIN_SCORERS,
    ENTRY_POINT_GROUP,
    ChoiceLetterScorer,
    ChoiceLoglikelihoodScorer,
    ExactMatchScorer,
    NumericScorer,
    RegexScorer,
    Score,
    Scorer,
    ScorerRegistry,
    ScoreStatus,
    _registry,
    make_scorer,
    scorer_names,
)

from ._helpers import gen, target_item

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


class UpperScorer:
    """A plug-in scorer for these tests: 1 when the response is all capitals."""

    name: ClassVar[str] = "upper"
    request_kind: ClassVar[Any] = "generate"

    def __init__(self, *, strict: bool = False) -> None:
        if not isinstance(strict, bool):
            raise ValueError("strict must be a boolean")
        self.strict = strict

    def score(self, item: Item, output: ModelOutput) -> Score:
        text = getattr(output, "text", "")
        return Score(ScoreStatus.SCORED, 1.0 if text.isupper() else 0.0, text, None)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "args": {"strict": self.strict}}


class Misnamed(UpperScorer):
    name: ClassVar[str] = "something_else"


class NoKind:
    name: ClassVar[str] = "nokind"

    def score(self, item: Item, output: ModelOutput) -> Score:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {}


HERE = __name__


@pytest.fixture
def registry() -> ScorerRegistry:
    return ScorerRegistry(
        {
            "upper": f"{HERE}:UpperScorer",
            "misnamed": f"{HERE}:Misnamed",
            "nokind": f"{HERE}:NoKind",
            "missing_module": "llmcert.no_such_module:Scorer",
            "missing_class": f"{HERE}:NoSuchClass",
            "not_a_class": f"{HERE}:HERE",
        },
        entry_point_group=None,
    )


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("exact_match", ExactMatchScorer),
        ("numeric", NumericScorer),
        ("choice_letter", ChoiceLetterScorer),
        ("choice_loglikelihood", ChoiceLoglikelihoodScorer),
    ],
)
def test_make_scorer_builds_builtins(name: str, cls: type) -> None:
    scorer = make_scorer(name)
    assert type(scorer) is cls
    assert isinstance(scorer, Scorer)
    assert scorer.name == name
    assert scorer.config() == make_scorer(name, {}).config()


def test_make_regex_scorer() -> None:
    scorer = make_scorer("regex", {"pattern": "x"})
    assert isinstance(scorer, RegexScorer)


def test_scorer_names_lists_builtins_sorted() -> None:
    names = scorer_names()
    assert set(BUILTIN_SCORERS) <= set(names)
    assert names == sorted(names)


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("exact_mach", "exact_match"), ("Numeric", "numeric"), ("choice_leter", "choice_letter")],
)
def test_unknown_name_suggests_closest(typo: str, suggestion: str) -> None:
    with pytest.raises(SpecError) as info:
        make_scorer(typo)
    assert info.value.field == "scorer.name"
    assert f"did you mean {suggestion!r}" in info.value.message


def test_unknown_name_without_close_match_lists_known() -> None:
    with pytest.raises(SpecError) as info:
        make_scorer("zzzzzz")
    assert "did you mean" not in info.value.message
    assert "exact_match" in info.value.message


def test_args_must_have_string_keys() -> None:
    with pytest.raises(SpecError) as info:
        make_scorer("numeric", {1: 2})  # type: ignore[dict-item]
    assert info.value.field == "scorer.args"


def test_unexpected_arg_names_the_accepted_ones() -> None:
    with pytest.raises(SpecError) as info:
        make_scorer("choice_loglikelihood", {"normalise": "chars"})
    assert "normalize" in info.value.message


def test_builtins_match_pyproject_entry_points() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    declared = project["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert declared == dict(BUILTIN_SCORERS)


def test_installed_entry_points_resolve_to_the_builtins() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in BUILTIN_SCORERS:
            assert ep.load() is ScorerRegistry().scorer_class(ep.name)


def test_custom_registry(registry: ScorerRegistry) -> None:
    scorer = registry.make("upper", {"strict": True})
    assert isinstance(scorer, UpperScorer)
    assert scorer.score(target_item(None), gen("YES")).value == 1.0
    assert "exact_match" not in registry.names()


def test_plugin_constructor_errors_become_spec_errors(registry: ScorerRegistry) -> None:
    with pytest.raises(SpecError) as info:
        registry.make("upper", {"strict": "yes"})
    assert info.value.field == "scorer.args"
    assert "strict must be a boolean" in info.value.message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("misnamed", "its name is 'something_else'"),
        ("nokind", "request_kind"),
        ("missing_module", "cannot be loaded"),
        ("missing_class", "cannot be loaded"),
        ("not_a_class", "not a class"),
    ],
)
def test_broken_registrations_are_reported(
    registry: ScorerRegistry, name: str, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        registry.make(name)
    assert info.value.field == "scorer.name"
    assert message in info.value.message


def test_entry_point_plugins_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = EntryPoint(name="upper", value=f"{HERE}:UpperScorer", group="test.scorers")
    shadow = EntryPoint(name="numeric", value=f"{HERE}:UpperScorer", group="test.scorers")

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        return [plugin, shadow] if group == "test.scorers" else []

    monkeypatch.setattr(_registry, "entry_points", fake_entry_points)
    registry = ScorerRegistry(entry_point_group="test.scorers")
    assert "upper" in registry.names()
    assert isinstance(registry.make("upper"), UpperScorer)
    # a plug-in cannot replace a built-in
    assert isinstance(registry.make("numeric"), NumericScorer)
    with pytest.raises(SpecError, match="did you mean 'upper'"):
        registry.make("uper")
