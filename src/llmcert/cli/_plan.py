"""``llmcert plan``: how many items a requirement needs to be decided at a margin."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class DirectionChoice(StrEnum):
    at_least = "at_least"
    at_most = "at_most"


class RuleChoice(StrEnum):
    bound = "bound"
    sequential = "sequential"


def plan_command(
    threshold: Annotated[
        float, typer.Option("--threshold", "-t", min=0.0, max=1.0, help="Required rate, e.g. 0.95.")
    ],
    direction: Annotated[
        DirectionChoice,
        typer.Option(
            "--direction", "-d", help="at_least: rate ≥ threshold; at_most: rate ≤ threshold."
        ),
    ] = DirectionChoice.at_least,
    margin: Annotated[
        float,
        typer.Option(
            "--margin",
            "-m",
            min=0.0,
            max=1.0,
            help="Decide correctly when the true rate is this far from the threshold.",
        ),
    ] = 0.02,
    confidence: Annotated[
        float, typer.Option("--confidence", "-c", help="Confidence level of the decision rule.")
    ] = 0.95,
    power: Annotated[
        float,
        typer.Option("--power", help="Wanted probability of the right verdict at the margin."),
    ] = 0.8,
    rule: Annotated[
        RuleChoice,
        typer.Option("--rule", "-r", help="bound: fixed sample; sequential: stop early."),
    ] = RuleChoice.bound,
    min_n: Annotated[
        int, typer.Option("--min-n", min=1, help="Minimum sample the requirement sets.")
    ] = 1,
    runs: Annotated[
        int, typer.Option("--runs", min=100, help="Simulated runs per rate (sequential rule).")
    ] = 2000,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the simulation (sequential rule).")
    ] = 0,
) -> None:
    """Items needed to decide a requirement at a margin, and the verdicts to expect."""
    from rich.console import Console
    from rich.table import Table

    from llmcert.stats import (
        Direction,
        Verdict,
        items_needed,
        sequential_items_needed,
        sequential_outlook,
        verdict_probabilities,
    )

    d: Direction = "at_least" if direction is DirectionChoice.at_least else "at_most"
    sign = "≥" if d == "at_least" else "≤"
    good = 1.0 if d == "at_least" else -1.0
    try:
        if rule is RuleChoice.bound:
            n = items_needed(
                threshold, d, margin=margin, confidence=confidence, power=power, min_n=min_n
            )
        else:
            n = sequential_items_needed(
                threshold,
                d,
                margin=margin,
                confidence=confidence,
                power=power,
                min_n=min_n,
                runs=runs,
                seed=seed,
            )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    rates = [threshold + good * margin, threshold, threshold - good * margin]
    labels = ["passing side", "at threshold", "failing side"]
    title = (
        f"rate {sign} {threshold:g} at {confidence:.0%} confidence, margin {margin:g}, "
        f"power {power:.0%}"
    )
    table = Table(title=title)
    table.add_column("true rate", justify="right")
    table.add_column("case")
    if rule is RuleChoice.sequential:
        table.add_column("items drawn (mean / median)", justify="right")
    for head in ("P(PASS)", "P(FAIL)", "P(INCONCLUSIVE)"):
        table.add_column(head, justify="right")
    for k, (rate, label) in enumerate(zip(rates, labels, strict=True)):
        cells = [f"{rate:.4g}", label]
        if rule is RuleChoice.bound:
            probs = verdict_probabilities(
                threshold, d, n=n, rate=rate, confidence=confidence, min_n=min_n
            )
            p = [probs[Verdict.PASS], probs[Verdict.FAIL], probs[Verdict.INCONCLUSIVE]]
        else:
            out = sequential_outlook(
                threshold,
                d,
                rate=rate,
                max_items=n,
                confidence=confidence,
                min_n=min_n,
                runs=runs,
                seed=seed + 100 + k,
            )
            cells.append(f"{out.items_mean:.0f} / {out.items_median:.0f}")
            p = [out.p_pass, out.p_fail, out.p_inconclusive]
        table.add_row(*cells, *(f"{x:.3f}" for x in p))

    console = Console()
    if rule is RuleChoice.bound:
        console.print(f"items needed (confidence-bound rule, exact binomial): [bold]{n}[/bold]")
    else:
        console.print(
            f"bank size needed (sequential rule, {runs} simulated runs, seed {seed}): "
            f"[bold]{n}[/bold]; runs stop early once settled"
        )
    console.print(table)
