"""Scorers: pure functions from (item, model output) to a Score in [0, 1].

A wrong or unreadable answer is *scored* 0; a score is *unscored* only when the
item lacks what the scorer needs (e.g. no target). Failed model calls never
reach a scorer. Suites name scorers through :func:`make_scorer`.
"""

from llmcert.scoring._registry import (
    BUILTIN_SCORERS,
    ENTRY_POINT_GROUP,
    ScorerRegistry,
    make_scorer,
    scorer_names,
)
from llmcert.scoring._types import RequestKind, Score, Scorer, ScoreStatus
from llmcert.scoring.choice import ChoiceLetterScorer, ChoiceLoglikelihoodScorer
from llmcert.scoring.text import ExactMatchScorer, NumericScorer, RegexScorer

__all__ = [
    "BUILTIN_SCORERS",
    "ENTRY_POINT_GROUP",
    "ChoiceLetterScorer",
    "ChoiceLoglikelihoodScorer",
    "ExactMatchScorer",
    "NumericScorer",
    "RegexScorer",
    "RequestKind",
    "Score",
    "ScoreStatus",
    "Scorer",
    "ScorerRegistry",
    "make_scorer",
    "scorer_names",
]
