"""``llmcert eval``: one suite on one model, with a results table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from llmcert.report import EvalResult


def eval_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model reference: embedded, embedded:gemma3-270m, llamacpp:PATH.gguf, "
            "openai://HOST:PORT/v1?model=NAME (API key from $LLMCERT_API_KEY).",
        ),
    ] = "embedded",
    suite: Annotated[
        str, typer.Option("--suite", "-s", help="Built-in suite name or path to a suite YAML.")
    ] = "default",
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Local copy of the dataset for importer-based suites (e.g. gsm8k)."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Evaluate only the first N items.")
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=4096, help="Parallel model calls.")
    ] = 8,
    repeats: Annotated[
        int | None,
        typer.Option("--repeats", "-k", min=1, help="Repeats per item (default: the suite's)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for sampling and per-unit seeds.")] = 0,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for the journal and the reports.")
    ] = Path("llmcert-output"),
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
) -> None:
    """Evaluate a model on a test suite. With no options: the embedded model on the default suite."""
    from llmcert.engine import RichProgress
    from llmcert.services.evaluate import EvalRequest, evaluate_sync

    request = EvalRequest(
        model=model,
        suite=suite,
        data=data,
        limit=limit,
        concurrency=concurrency,
        repeats=repeats,
        seed=seed,
        output=output,
        command=sys.argv[1:],
    )
    sink = RichProgress(_label(suite, model)) if progress else None
    outcome = evaluate_sync(
        request, progress=sink, before_execute=_settle_heap, ahead=(_load_table_renderer,)
    )
    _print_result(outcome.result)
    typer.echo(f"result: {outcome.result_path}")
    typer.echo(f"report: {outcome.report_path}")


def _label(suite: str, model: str) -> str:
    """A short progress label: the suite's name and the model reference, clipped."""
    name = Path(suite).stem if suite.endswith((".yaml", ".yml")) else suite
    return f"{name} · {model if len(model) <= 32 else model[:31] + '…'}"


def _settle_heap() -> None:
    """Keep what was loaded before the run out of every later garbage collection.

    The CLI is a short-lived process: modules, the suite and the planned units live
    until it exits, and rescanning them in each full collection during a run of
    thousands of calls measurably slows it (BENCHMARKS.md). No collection first: it
    would sit on the critical path, and the little start-up garbage it might free
    is released when the process exits anyway.
    """
    import gc

    gc.freeze()


def _load_table_renderer() -> None:
    """Import what prints the results table, while calls are in flight."""
    import rich.console
    import rich.table  # noqa: F401


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _print_result(result: EvalResult) -> None:
    from rich.console import Console
    from rich.table import Table

    suite, model = result.suite, result.model
    methods = sorted({m.method for m in result.metrics})
    table = Table(
        title=f"{suite['name']} {suite['version']} on {model['ref']}",
        caption=f"intervals: {', '.join(methods)} · model {str(model['digest'])[7:19]} · "
        f"suite {str(suite['digest'])[7:19]}",
    )
    table.add_column("metric", no_wrap=True)
    for col in ("estimate", "95% CI", "scored", "errors", "unscored"):
        table.add_column(col, justify="right", no_wrap=True)
    for m in result.metrics:
        label = m.name + "".join(f" · {k}={v}" for k, v in m.group.items())
        ci = "—" if m.ci_low is None else f"{_fmt(m.ci_low)} – {_fmt(m.ci_high)}"
        table.add_row(
            label, _fmt(m.estimate), ci, str(m.n_scored), str(m.n_error), str(m.n_unscored)
        )
    console = Console()
    console.print(table)
    t = result.timings
    console.print(
        f"{t.units_total} units: {t.units_sent} sent, {t.units_from_journal} from the journal; "
        f"{sum(result.errors.values())} errors; {t.wall_s:.1f} s"
    )
    console.print(hardware_footer(result), highlight=False)
    order = str((result.model.get("details") or {}).get("greedy_order_check", ""))
    if order.startswith("order-dependent"):
        from rich.markup import escape

        console.print(f"[yellow]server: {escape(order)}[/]", highlight=False)
    if result.errors:
        kinds = ", ".join(f"{k} × {v}" for k, v in sorted(result.errors.items()))
        console.print(
            f"[yellow]errors are not counted as wrong answers and are excluded from rates: {kinds}[/]"
        )


def hardware_footer(result: EvalResult) -> str:
    """The hardware class the figures hold for: another CPU class may give other answers."""
    from rich.markup import escape

    hc = result.environment.hardware_class
    if hc is None:
        return "hardware class: not applicable (the model ran outside this process)"
    return escape(
        f"hardware class: {hc.label} [{hc.short_key}] on {hc.cpu}; "
        "in-process figures hold for this class"
    )
