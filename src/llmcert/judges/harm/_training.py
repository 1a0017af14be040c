"""Fitting the harm judge's heads and measuring the judge held out by source.

One procedure serves the shipped weights, the published held-out figures and the
tests. Input is plain labelled examples tagged with their source (the dataset,
or a model within it); reading datasets from disk is the caller's business.

Each source counts equally in a fit whatever its size, and the two classes count
equally overall, so that a large, one-sided source does not decide what the
judge learns about everyone else. Holding a source out removes it from the
content head's data and removes from the prompt head's data any prompt set the
held-out source was built from (``related``), so no figure is measured on data
the judge has seen in another guise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from llmcert.judges.harm._features import RISK_BUCKETS, prompt_row, response_row, risk_row
from llmcert.judges.harm._judge import HarmJudge, HarmVerdict
from llmcert.judges.harm._model import BinaryHead, FitSettings, HarmModel, fit_binary, fit_risk

DEFAULT_FIT = FitSettings()


@dataclass(frozen=True, slots=True)
class HarmExample:
    """A human-labelled pair: is the response harmful compliance (or harmful text)?"""

    prompt: str
    response: str
    harmful: bool
    source: str
    language: str


@dataclass(frozen=True, slots=True)
class PromptExample:
    """A request, and whether fulfilling it would be harmful."""

    prompt: str
    harmful: bool
    source: str


@dataclass(frozen=True, slots=True)
class RiskExample:
    """A prompt (or pair) with the GB/T 45654 risk it falls under."""

    prompt: str
    response: str
    risk: str
    source: str


def source_weights(sources: Sequence[str], labels: Sequence[bool]) -> list[float]:
    """Weights giving each source equal total weight, then each class half of the whole."""
    per_source = Counter(sources)
    raw = [1.0 / per_source[s] for s in sources]
    by_class = {
        c: sum(w for w, y in zip(raw, labels, strict=True) if y == c) for c in (True, False)
    }
    if not by_class[True] or not by_class[False]:
        raise ValueError("fitting needs examples of both classes")
    return [w / (2.0 * by_class[y]) for w, y in zip(raw, labels, strict=True)]


def _fit_head(
    rows: Sequence[dict[int, float]],
    items: Sequence[HarmExample | PromptExample],
    exclude: frozenset[str],
    l2: float,
    iters: int,
) -> BinaryHead:
    """A binary head on the items (and their rows) whose source is not excluded."""
    keep = [i for i, item in enumerate(items) if item.source not in exclude]
    labels = [items[i].harmful for i in keep]
    weights = source_weights([items[i].source for i in keep], labels)
    return fit_binary([rows[i] for i in keep], labels, weights, l2, iters)


@dataclass
class Corpus:
    """Examples with their feature rows computed once, for repeated fits."""

    examples: Sequence[HarmExample]
    prompts: Sequence[PromptExample]
    risks: Sequence[RiskExample]

    def __post_init__(self) -> None:
        self.response_rows = [response_row(e.response) for e in self.examples]
        self.prompt_rows = [prompt_row(p.prompt) for p in self.prompts]


def fit_risk_head(
    risks: Sequence[RiskExample], settings: FitSettings = DEFAULT_FIT
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    risk_ids = tuple(sorted({r.risk for r in risks}))
    if not risk_ids:
        return (), np.zeros((RISK_BUCKETS, 0), np.float32), np.zeros(0, np.float32)
    coef, bias = fit_risk(
        [risk_row(r.prompt, r.response) for r in risks],
        [r.risk for r in risks],
        risk_ids,
        settings.risk_l2,
        settings.max_iterations,
    )
    return risk_ids, coef, bias


def fit_model(
    corpus: Corpus,
    settings: FitSettings = DEFAULT_FIT,
    *,
    exclude: frozenset[str] = frozenset(),
    risk_head: tuple[tuple[str, ...], np.ndarray, np.ndarray] | None = None,
) -> HarmModel:
    """Fit every head on the corpus without the sources in ``exclude``."""
    iters = settings.max_iterations
    content = _fit_head(corpus.response_rows, corpus.examples, exclude, settings.content_l2, iters)
    prompt = _fit_head(corpus.prompt_rows, corpus.prompts, exclude, settings.prompt_l2, iters)
    risk_ids, risk_coef, risk_bias = risk_head or fit_risk_head(corpus.risks, settings)
    return HarmModel(content, prompt, risk_ids, risk_coef, risk_bias)


@dataclass(frozen=True)
class HeldOutSource:
    """Every example of one source, judged by weights fitted without that source."""

    source: str
    examples: tuple[HarmExample, ...]
    verdicts: tuple[HarmVerdict, ...]


def held_out_by_source(
    corpus: Corpus,
    settings: FitSettings = DEFAULT_FIT,
    *,
    related: Mapping[str, frozenset[str]] | None = None,
    test_only: Sequence[HarmExample] = (),
) -> tuple[list[HeldOutSource], HarmModel]:
    """Leave one source out: fit on the others, judge it.

    ``related[s]`` names prompt sets held out with ``s``. ``test_only`` sources
    (labels unfit for training, e.g. a judge model's, or sources that would
    crowd out others) are judged by the fit on every source, which is returned
    too (it is the model that ships), or by a fit without ``related[s]`` if named.
    """
    related = related or {}
    sources = sorted({e.source for e in corpus.examples})
    if len(sources) < 2:
        raise ValueError("holding out by source needs at least two sources")
    risk_head = fit_risk_head(corpus.risks, settings)
    full = fit_model(corpus, settings, risk_head=risk_head)
    out: list[HeldOutSource] = []
    for source in sources:
        exclude = frozenset({source}) | related.get(source, frozenset())
        judge = HarmJudge(fit_model(corpus, settings, exclude=exclude, risk_head=risk_head))
        test = tuple(e for e in corpus.examples if e.source == source)
        out.append(HeldOutSource(source, test, tuple(judge.judge_many(_pairs(test)))))
    fits: dict[frozenset[str], HarmModel] = {frozenset(): full}  # shared by related sets
    for source in sorted({e.source for e in test_only}):
        exclude = related.get(source, frozenset())
        if exclude not in fits:
            fits[exclude] = fit_model(corpus, settings, exclude=exclude, risk_head=risk_head)
        model = fits[exclude]
        test = tuple(e for e in test_only if e.source == source)
        out.append(HeldOutSource(source, test, tuple(HarmJudge(model).judge_many(_pairs(test)))))
    return out, full


def _pairs(examples: Sequence[HarmExample]) -> list[tuple[str, str]]:
    return [(e.prompt, e.response) for e in examples]
