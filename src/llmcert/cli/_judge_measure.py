"""``llmcert judge agreement|calibrate``: measure a judge on human labels."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from llmcert.judges.agreement import AgreementReport, BinaryStats

_OFFLINE = ("llmcert-harm", "llmcert-refusal")

JudgeOption = Annotated[
    str,
    typer.Option(
        "--judge",
        "-j",
        help="llmcert-harm, llmcert-refusal, or a model reference for an LLM judge "
        "(embedded, an endpoint URL, ...; API key from the env; 'llm:' in front is allowed, "
        "as `assess --judge` takes it) used with --rubric.",
    ),
]
LabelsOption = Annotated[
    Path,
    typer.Option(
        "--labels",
        "-l",
        help="JSONL or CSV with prompt, response, label (and optionally language, source).",
    ),
]
RubricOption = Annotated[
    str,
    typer.Option("--rubric", "-r", help="For an LLM judge: built-in rubric or rubric file."),
]


@dataclass(frozen=True, slots=True)
class _Judged:
    labels: list[str]
    identity: dict[str, Any]
    #: Why answers went unlabelled (no label line, a failed call, ...), by count: each of
    #: them is counted as the wrong label, and a reader must see how many there were.
    unlabelled: Counter[str] = field(default_factory=Counter)


def _judge_rows(judge: str, rubric: str, rows: list[Any], task: str) -> _Judged:
    from llmcert.judges import measure

    if judge in _OFFLINE:
        return _Judged(*measure.offline_labels(judge, rows))
    import asyncio

    from llmcert.judges.llm_harm import PREFIX

    judge = judge.removeprefix(PREFIX)  # the form ``assess --judge`` takes works here too

    from llmcert.judges.llm_judge import LlmJudge, load_rubric
    from llmcert.models import ModelRef, open_backend

    spec = load_rubric(rubric)
    ref = ModelRef.parse(judge)

    async def run() -> tuple[list[Any], dict[str, Any]]:
        backend = open_backend(ref)
        try:
            llm = LlmJudge(backend, spec)
            await llm.identify()
            verdicts = await llm.judge_many([(r.prompt, r.response) for r in rows], concurrency=4)
            return verdicts, llm.calibration_identity()
        finally:
            await backend.aclose()

    verdicts, identity = asyncio.run(run())
    unlabelled = Counter(str(v.problem or "no label") for v in verdicts if not v.parsed)
    return _Judged(measure.llm_labels(verdicts, rows, task), identity, unlabelled)


def _print(report: AgreementReport, binary: BinaryStats, judged: _Judged, labels: Path) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    kappa = "n/a" if report.kappa is None else f"{report.kappa:.3f}"
    title = f"{judged.identity['name']}@{judged.identity['version']} on {labels.name}"
    console.print(f"[bold]{escape(title)}[/bold]")
    if judged.unlabelled:
        why = "; ".join(f"{reason}: {n}" for reason, n in judged.unlabelled.most_common())
        console.print(
            f"[yellow]{judged.unlabelled.total()} of {len(judged.labels)} answers gave no label "
            f"({escape(why)}); each is counted as the wrong label[/yellow]"
        )
    console.print(f"agreement {report.agreement} · Cohen's kappa {kappa}")
    console.print(f"sensitivity {binary.sensitivity} · specificity {binary.specificity}")
    console.print(report.table())
    per_class = Table(title="per class (Wilson 95%)")
    per_class.add_column("class")
    per_class.add_column("precision")
    per_class.add_column("recall")
    for c in report.classes:
        per_class.add_row(c.label, str(c.precision), str(c.recall))
    console.print(per_class)
    if report.by_language:
        langs = Table(title="per language")
        langs.add_column("language")
        langs.add_column("agreement")
        langs.add_column("kappa")
        for lang, sub in report.by_language.items():
            k = "n/a" if sub.kappa is None else f"{sub.kappa:.3f}"
            langs.add_row(lang, str(sub.agreement), k)
        console.print(langs)


def judge_agreement_command(
    judge: JudgeOption,
    labels: LabelsOption,
    rubric: RubricOption = "harm-v1",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write every figure as JSON here.")
    ] = None,
) -> None:
    """Agreement of a judge with human labels: kappa, confusion, per-class P/R, per language."""
    from llmcert._fileio import write_text_atomic
    from llmcert.judges import measure

    task = measure.task_of(judge, rubric)
    rows = measure.read_labelled(labels, task)
    judged = _judge_rows(judge, rubric, rows, task)
    report, binary = measure.compare(rows, judged.labels, task)
    _print(report, binary, judged, labels)
    if json_out is not None:
        content = {"judge": judged.identity, "labels": str(labels), "binary": binary.to_dict()}
        content["unlabelled"] = dict(judged.unlabelled)
        content["report"] = report.to_dict()
        write_text_atomic(json_out, json.dumps(content, indent=1, ensure_ascii=False) + "\n")


def judge_calibrate_command(
    judge: JudgeOption,
    labels: LabelsOption,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the calibration file (.json).")
    ],
    rubric: RubricOption = "harm-v1",
) -> None:
    """Measure a judge's sensitivity and specificity on human labels; write a calibration file.

    The file names the judge (for an LLM judge: model identity digest, rubric digest
    and decoding settings), holds counts only, and is validated before it is written.
    """
    from collections import defaultdict

    from llmcert._fileio import write_text_atomic
    from llmcert.judges import measure
    from llmcert.judges._calfile import read_calibration

    if output.suffix != ".json":
        raise typer.BadParameter("the calibration file must end in .json", param_hint="--output")
    task = measure.task_of(judge, rubric)
    rows = measure.read_labelled(labels, task)
    judged = _judge_rows(judge, rubric, rows, task)
    report, binary = measure.compare(rows, judged.labels, task)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r.source:
            groups[r.source].append(i)
    by_source = {
        s: measure.compare([rows[i] for i in idx], [judged.labels[i] for i in idx], task)[1]
        for s, idx in groups.items()
    }
    content = measure.calibration_content(
        judged.identity,
        binary,
        task,
        f"{labels.name} ({len(rows)} human-labelled responses)",
        by_source=by_source,
    )
    text = json.dumps(content, indent=1, ensure_ascii=False) + "\n"
    _, digest = read_calibration(text.encode("utf-8"), output)  # never write an invalid file
    write_text_atomic(output, text)
    _print(report, binary, judged, labels)
    typer.echo(f"wrote {output} ({digest})")


def judge_sample_command(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="An assessment's or evaluation's output directory, or result.json files."
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where to write the rows to label (.jsonl or .csv)."),
    ],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="How many answers to draw.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draw.")] = 0,
    suite: Annotated[
        list[str] | None,
        typer.Option("--suite", "-s", help="Draw only from this suite (repeatable)."),
    ] = None,
) -> None:
    """Draw a uniform sample of a model's answers for human labelling.

    Fill each row's empty `label` (full_refusal, partial_refusal, full_compliance; or
    harmful, not_harmful), then `llmcert judge calibrate --labels FILE` measures the
    judge on this model, and `llmcert assess --refusal-calibration` (or `--judge`)
    uses that calibration. The judge's own labels are not shown, so they cannot
    anchor the labeller.
    """
    from llmcert.judges._table import table_format, write_table
    from llmcert.services.labelling import COLUMNS, sample_for_labelling

    table_format(output)  # an unusable output name fails before any work
    sample = sample_for_labelling(results, n, seed=seed, suites=suite or ())
    write_table(output, COLUMNS, sample.rows)
    typer.echo(
        f"wrote {len(sample.rows)} of {sample.population} answers from "
        f"{len(sample.results)} result(s) to {output}; fill in the 'label' column"
    )
