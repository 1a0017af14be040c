"""A sample of a model's answers for human labelling, to calibrate a judge on that model.

A judge's shipped calibration has to cover models unlike its calibration sources,
so on a new model its intervals are wide. Human labels of a sample of *this*
model's answers, given to ``llmcert judge calibrate``, measure the judge where it
is used. The sample is uniform over the answered units, not stratified by the
judge's label, so the sensitivity and specificity measured on it are unbiased for
this model's answers; the judge's own label is left out so that it cannot anchor
the labeller. Reusing answers the assessment also counts is sound: the correction
splits its error probability over its three estimates without assuming they are
independent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llmcert.errors import SpecError
from llmcert.report import UnitRecord, load_result
from llmcert.services.assess._judge import prompt_of, response_of

#: Columns of the file to label, in order; ``label`` is left empty for the labeller.
COLUMNS = ("key", "suite", "source", "language", "prompt", "response", "label")


@dataclass(frozen=True, slots=True)
class LabellingSample:
    """The rows to label, and how many answered units they were drawn from."""

    rows: list[dict[str, str]]
    population: int
    results: list[Path]


def find_results(paths: Sequence[Path]) -> list[Path]:
    """Evaluation results named directly or found under the given directories (an
    assessment's directory holds one per suite under ``runs/``)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(path.rglob("result.json"))
        elif path.is_file():
            found.append(path)
        else:
            raise SpecError("no such file or directory", path=path)
    if not found:
        raise SpecError(
            "no result.json under " + ", ".join(str(p) for p in paths) + "; give an "
            "assessment's or evaluation's output directory, or result.json files"
        )
    return found


def sample_for_labelling(
    paths: Sequence[Path], n: int, *, seed: int = 0, suites: Sequence[str] = ()
) -> LabellingSample:
    """Up to ``n`` answered units drawn uniformly (seeded) from the results, as rows to label.

    ``suites`` keeps only the named suites. Failed calls and empty answers are not
    drawn: there is nothing to label.
    """
    if n < 1:
        raise SpecError(f"the sample size must be at least 1, got {n}")
    results = find_results(paths)
    population: list[dict[str, str]] = []
    for path in results:
        result = load_result(path)
        suite = str(result.suite.get("name", ""))
        if suites and suite not in suites:
            continue
        model = result.model
        source = f"{model.get('ref', '')} {str(model.get('digest', ''))[:19]}".strip()
        population += [_row(record, suite, source) for record in result.units if _answered(record)]
    if not population:
        wanted = f" of suite {', '.join(suites)}" if suites else ""
        raise SpecError(f"no answered unit{wanted} in {len(results)} result(s) to sample")
    population.sort(key=lambda row: (row["suite"], row["key"]))  # the draw depends on the seed only
    drawn = random.Random(seed).sample(population, min(n, len(population)))
    return LabellingSample(drawn, len(population), results)


def _answered(record: UnitRecord) -> bool:
    text = response_of(record)
    return text is not None and bool(text.strip())


def _row(record: UnitRecord, suite: str, source: str) -> dict[str, str]:
    return {
        "key": record.key,
        "suite": suite,
        "source": source,
        "language": str(record.metadata.get("language", "")),
        "prompt": prompt_of(record),
        "response": response_of(record) or "",
        "label": "",
    }


__all__ = ["COLUMNS", "LabellingSample", "find_results", "sample_for_labelling"]
