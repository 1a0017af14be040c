from __future__ import annotations

from types import ModuleType

import llmcert.scoring as scoring


def test_all_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(scoring).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert set(scoring.__all__) == public
    assert len(scoring.__all__) == len(set(scoring.__all__))


def test_all_names_resolve() -> None:
    for name in scoring.__all__:
        assert getattr(scoring, name) is not None


def test_required_exports_present() -> None:
    required = {
        "Score",
        "ScoreStatus",
        "Scorer",
        "make_scorer",
        "scorer_names",
        "ExactMatchScorer",
        "NumericScorer",
        "RegexScorer",
        "ChoiceLetterScorer",
        "ChoiceLoglikelihoodScorer",
    }
    assert required <= set(scoring.__all__)
