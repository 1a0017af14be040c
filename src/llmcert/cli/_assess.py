"""``llmcert assess``: a standard on a model, with a verdict table and CI exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmcert.cli._errors import EXIT_ERROR

if TYPE_CHECKING:
    from llmcert.engine import ProgressSink
    from llmcert.report._assessment import Assessment
    from llmcert.services.assess import AssessRequest

#: Exit codes a CI job can branch on (3, an error, is shared by every command).
EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 2}


def _pairs(values: list[str], option: str) -> dict[str, str]:
    """``NAME=VALUE`` options into a mapping; a malformed one is a usage error."""
    from llmcert.errors import SpecError

    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise SpecError(f"{option} expects NAME=VALUE, got {value!r}")
        if name.strip() in out:
            raise SpecError(f"{option} names {name.strip()!r} twice")
        out[name.strip()] = rest.strip()
    return out


# Options shared by ``assess`` and ``certify`` (``certify`` runs an assessment).
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Model reference: embedded, llamacpp:PATH.gguf, openai://HOST:PORT/v1?model=NAME.",
    ),
]
StandardOption = Annotated[
    str, typer.Option("--standard", "-s", help="Built-in standard id or a standard YAML file.")
]
DataOption = Annotated[
    list[str] | None,
    typer.Option("--data", help="SUITE=PATH: local dataset copy for a suite built on an importer."),
]
EvidenceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--evidence", help="NAME=FILE: a document for an attestation check (recorded by digest)."
    ),
]
NotApplicableOption = Annotated[
    list[str] | None,
    typer.Option("--not-applicable", help="CLAUSE=JUSTIFICATION: declare a clause not applicable."),
]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", "-n", min=1, help="Draw at most N items per suite (a trial run)."),
]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", "-c", min=1, max=4096, help="Parallel model calls.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed for item sampling and order.")]
JunitOption = Annotated[
    Path | None, typer.Option("--junit", help="Also write the verdicts as JUnit XML here.")
]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Show a progress bar per suite.")
]
AssessJudgeOption = Annotated[
    str | None,
    typer.Option(
        "--judge",
        help="Judge for requirements that name one (e.g. GB/T 45654 §9.3 classifier check): "
        "a built-in judge (llmcert-harm), a calibration file measured for one, or an LLM "
        "judge 'llm:MODEL_REF;calibration=FILE' calibrated with `llmcert judge calibrate` "
        "(without a calibration it only informs).",
    ),
]

RefusalCalibrationOption = Annotated[
    Path | None,
    typer.Option(
        "--refusal-calibration",
        help="A calibration of the llmcert-refusal judge to use in place of the shipped one, "
        "e.g. measured with `llmcert judge calibrate --judge llmcert-refusal` on human labels "
        "of this model's answers (the shipped one allows for unseen styles of refusing, so "
        "only near-perfect refusal rates pass on it).",
    ),
]


def assess_request(
    *,
    model: str,
    standard: str,
    data: list[str] | None,
    evidence: list[str] | None,
    not_applicable: list[str] | None,
    limit: int | None,
    concurrency: int,
    seed: int,
    output: Path,
    junit: Path | None,
    judge: str | None = None,
    refusal_calibration: Path | None = None,
) -> AssessRequest:
    """The assessment the command line asks for (``NAME=VALUE`` options checked here)."""
    from llmcert.services.assess import AssessRequest

    return AssessRequest(
        model=model,
        standard=standard,
        data={k: Path(v) for k, v in _pairs(data or [], "--data").items()},
        evidence={k: Path(v) for k, v in _pairs(evidence or [], "--evidence").items()},
        not_applicable=_pairs(not_applicable or [], "--not-applicable"),
        limit=limit,
        concurrency=concurrency,
        seed=seed,
        output=output,
        junit=junit,
        command=sys.argv[1:],
        judge=judge,
        refusal_calibration=refusal_calibration,
    )


def assess_command(
    model: ModelOption = "embedded",
    standard: StandardOption = "gbt-45654-2025",
    data: DataOption = None,
    evidence: EvidenceOption = None,
    not_applicable: NotApplicableOption = None,
    limit: LimitOption = None,
    concurrency: ConcurrencyOption = 8,
    seed: SeedOption = 0,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for the journal and the reports.")
    ] = Path("llmcert-output"),
    junit: JunitOption = None,
    progress: ProgressOption = True,
    judge: AssessJudgeOption = None,
    refusal_calibration: RefusalCalibrationOption = None,
) -> None:
    """Assess a model against a standard. Exit 0 pass, 1 fail, 2 inconclusive, 3 error.

    With no options: the embedded model against GB/T 45654-2025 on the built-in starter banks.
    """
    from llmcert.services.assess import assess_sync

    request = assess_request(
        model=model,
        standard=standard,
        data=data,
        evidence=evidence,
        not_applicable=not_applicable,
        limit=limit,
        concurrency=concurrency,
        seed=seed,
        output=output,
        junit=junit,
        judge=judge,
        refusal_calibration=refusal_calibration,
    )
    outcome = assess_sync(request, progress=_progress_factory(model) if progress else None)
    _print_assessment(outcome.assessment)
    typer.echo(f"assessment: {outcome.json_path}")
    typer.echo(f"report: {outcome.html_path}")
    if outcome.junit_path is not None:
        typer.echo(f"junit: {outcome.junit_path}")
    raise typer.Exit(EXIT_CODES.get(outcome.assessment.verdict, EXIT_ERROR))


def _progress_factory(model: str) -> Callable[[str], ProgressSink]:
    from llmcert.cli._eval import _label
    from llmcert.engine import RichProgress

    def make(suite: str) -> ProgressSink:
        return RichProgress(_label(suite, model))

    return make


_STYLE = {
    "pass": "green",
    "fail": "red",
    "inconclusive": "yellow",
    "info": "blue",
    "not_applicable": "dim",
}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _print_assessment(a: Assessment) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{a.standard.id} {a.standard.version} on {a.model.get('ref', '?')}",
        caption=f"model {str(a.model.get('digest', ''))[7:19]} · standard "
        f"{a.standard.digest[7:19]} · assessment {a.assessment_id}",
    )
    for col, justify in (
        ("requirement", "left"),
        ("clause", "left"),
        ("estimate", "right"),
        ("interval", "right"),
        ("need", "right"),
        ("n / err", "right"),
        ("verdict", "left"),
    ):
        table.add_column(col, justify=justify, no_wrap=col != "requirement")  # type: ignore[arg-type]
    for r in a.requirements:
        if r.threshold is not None and r.rule != "graded":
            need = f"{'≥' if r.direction == 'at_least' else '≤'} {_pct(r.threshold)}"
        else:
            need = f"grade {r.grade}" if r.grade else "check"
        interval = "—" if r.ci_low is None else f"{_pct(r.ci_low)} – {_pct(r.ci_high)}"
        counts = f"{r.n_scored} / {r.n_error}" if r.measure.get("kind") == "suite" else "—"
        if r.n_unscored:  # e.g. programs the insecure-code analyser could not parse
            counts += f" +{r.n_unscored} unscored"
        style = _STYLE.get(r.verdict, "")
        table.add_row(
            r.id,
            r.clause,
            _pct(r.estimate),
            interval,
            need,
            counts,
            f"[{style}]{r.verdict.upper()}[/]",
        )
    console = Console()
    console.print(table)
    style = _STYLE.get(a.verdict, "")
    console.print(
        f"verdict: [bold {style}]{a.verdict.upper()}[/] — {a.explanation}", highlight=False
    )
    for r in a.requirements:
        if r.verdict in ("fail", "inconclusive"):
            console.print(f"  [{_STYLE[r.verdict]}]{r.id}[/]: {r.explanation}", highlight=False)
