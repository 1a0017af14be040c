"""From a workload spec to concrete requests, deterministically from a seed."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from llmcert.perf._spec import Lengths, WorkloadSpec

# Short common words: most tokenizers spend about one token on each with its space,
# so a synthetic prompt of N words is close to N input tokens.
_WORDS = [
    "time",
    "year",
    "people",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
]


@dataclass(frozen=True, slots=True)
class WorkRequest:
    """One request to send: a user prompt (as chat or completion) and its length budget."""

    index: int
    prompt: str
    max_tokens: int
    min_tokens: int
    ignore_eos: bool
    temperature: float
    seed: int


def _draw(lengths: Lengths, rng: random.Random) -> int:
    if lengths.distribution == "uniform":
        assert lengths.low is not None
        assert lengths.high is not None
        return rng.randint(lengths.low, lengths.high)
    if lengths.distribution == "normal":
        assert lengths.std is not None
        return max(1, round(rng.gauss(lengths.value, lengths.std)))
    return lengths.value


def _synthetic_prompt(n_words: int, rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n_words))


def suite_prompts(name: str) -> list[str]:
    """The rendered user prompts of a suite, in item order."""
    from llmcert.suites import load_suite

    suite = load_suite(name)
    renderer = suite.renderer
    return [renderer.completion(item) for item in suite.items]


def build_requests(
    workload: WorkloadSpec, n: int, seed: int, prompts: list[str] | None = None
) -> list[WorkRequest]:
    """``n`` requests; suite prompts are cycled in a seeded order when given."""
    rng = random.Random(seed)
    order: list[str] = []
    if prompts:
        order = list(prompts)
        rng.shuffle(order)
    out = []
    for i in range(n):
        prompt = (
            order[i % len(order)]
            if order
            else _synthetic_prompt(_draw(workload.input_tokens, rng), rng)
        )
        max_tokens = _draw(workload.output_tokens, rng)
        floor = math.ceil(workload.length_floor * max_tokens) if workload.ignore_eos else 0
        out.append(
            WorkRequest(
                i, prompt, max_tokens, floor, workload.ignore_eos, workload.temperature, seed + i
            )
        )
    return out
