"""``llmcert perf``: measure a serving system under a load and write perf.json + perf.html."""

from __future__ import annotations

import contextlib
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmcert.cli._errors import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from llmcert.services.perf import PerfOutcome


class ArrivalChoice(StrEnum):
    poisson = "poisson"
    gamma = "gamma"
    constant = "constant"


def perf_command(
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="openai://HOST:PORT/v1?model=NAME, embedded, or llamacpp:PATH."
        ),
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", "-r", help="Open loop: requests per second.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Closed loop: requests in flight.")
    ] = None,
    arrival: Annotated[
        ArrivalChoice, typer.Option("--arrival", help="Open-loop arrival process.")
    ] = ArrivalChoice.poisson,
    burstiness: Annotated[
        float, typer.Option("--burstiness", help="Gamma shape (1 = Poisson).")
    ] = 1.0,
    requests: Annotated[int, typer.Option("--requests", "-n", min=1)] = 200,
    input_tokens: Annotated[int, typer.Option("--input-tokens", min=1)] = 32,
    output_tokens: Annotated[int, typer.Option("--output-tokens", min=1)] = 64,
    workload_file: Annotated[
        Path | None,
        typer.Option("--workload", help="Workload YAML (lengths as distributions, a suite…)."),
    ] = None,
    suite: Annotated[
        str | None, typer.Option("--suite", help="Take prompts from this suite.")
    ] = None,
    ignore_eos: Annotated[
        bool,
        typer.Option(
            "--ignore-eos/--allow-eos",
            help="Ask for exactly --output-tokens; shorter answers then fail the SLO.",
        ),
    ] = True,
    slo_ttft: Annotated[float | None, typer.Option("--slo-ttft-ms")] = None,
    slo_tpot: Annotated[float | None, typer.Option("--slo-tpot-ms")] = None,
    slo_e2e: Annotated[float | None, typer.Option("--slo-e2e-ms")] = None,
    sweep: Annotated[
        float | None,
        typer.Option(
            "--sweep",
            min=0.0,
            max=1.0,
            help="Also sweep rates for DistServe goodput at this SLO attainment, e.g. 0.99.",
        ),
    ] = None,
    sweep_rates: Annotated[
        str | None, typer.Option("--sweep-rates", help="Comma-separated rates (default: doubling).")
    ] = None,
    meter: Annotated[
        str,
        typer.Option(
            "--meter",
            help="auto, none, powercap[:ROOT], nvml, file:PATH, command:CMD (+@estimated).",
        ),
    ] = "auto",
    selftest: Annotated[
        bool, typer.Option("--selftest/--no-selftest", help="Measure the client's own overhead.")
    ] = True,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Deadline per request from its scheduled arrival (s)."),
    ] = 120.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    output: Annotated[Path, typer.Option("--output", "-o")] = Path("llmcert-output"),
    from_journal: Annotated[
        Path | None,
        typer.Option(
            "--from-journal",
            help="Write perf.json and perf.html from a run's journal (its directory or "
            "perf.journal.jsonl), e.g. after an interruption; an interrupted run's report "
            "is marked incomplete. A latency run is not resumed: a restarted schedule "
            "would change the load it measures.",
        ),
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", hidden=True)] = False,
) -> None:
    """Measure TTFT, TPOT, ITL, end-to-end latency, throughput, goodput and energy."""
    from pydantic import ValidationError

    from llmcert._yamlspec import load_yaml_spec
    from llmcert.errors import SpecError
    from llmcert.perf import JOURNAL_NAME, LoadSpec, SLOSpec, WorkloadSpec
    from llmcert.services.perf import PerfRequest, measure_sync, report_journal, run_dir

    if resume:
        raise SpecError(
            "a latency run is not resumed: its second half would meet the server in another "
            "state on a restarted arrival schedule, which is not the load asked for. Report "
            "the requests that finished with --from-journal DIR (marked incomplete) and "
            "measure again"
        )
    if from_journal is not None:
        _print(report_journal(from_journal))
        return
    if model is None:
        raise SpecError("give --model (or --from-journal to report an earlier run)")
    if (rate is None) == (concurrency is None):
        raise SpecError("give exactly one of --rate (open loop) and --concurrency (closed loop)")
    try:
        load = LoadSpec(
            mode="open" if rate is not None else "closed",
            rate=rate,
            concurrency=concurrency,
            arrival=arrival.value,
            burstiness=burstiness,
            requests=requests,
            timeout_s=timeout,
            seed=seed,
        )
        if workload_file is not None:
            workload = load_yaml_spec(workload_file, WorkloadSpec)
        else:
            workload = WorkloadSpec.model_validate(
                {
                    "input_tokens": {"value": input_tokens},
                    "output_tokens": {"value": output_tokens},
                    "suite": suite,
                    "ignore_eos": ignore_eos,
                }
            )
        slo = SLOSpec(ttft_ms=slo_ttft, tpot_ms=slo_tpot, e2e_ms=slo_e2e)
        rates = [float(x) for x in sweep_rates.split(",")] if sweep_rates else None
    except (ValidationError, ValueError) as exc:
        raise SpecError(f"invalid load: {exc}") from None
    request = PerfRequest(
        model=model,
        load=load,
        workload=workload,
        slo=slo,
        meter=meter,
        selftest=selftest,
        sweep_share=sweep,
        sweep_rates=rates,
        output=output,
        command=tuple(sys.argv),
    )
    out_dir = run_dir(request)
    typer.echo(f"journal: {out_dir / JOURNAL_NAME}", err=True)
    try:
        outcome = measure_sync(request, out_dir, note=lambda msg: typer.echo(msg, err=True))
    except KeyboardInterrupt:
        journal = out_dir / JOURNAL_NAME
        if not journal.exists():
            typer.echo("interrupted before the run began: nothing was measured", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        typer.echo("interrupted: reporting the requests that finished", err=True)
        with contextlib.suppress(typer.Exit):  # no request finished: still an interruption
            _print(report_journal(journal))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _print(outcome)


def _print(outcome: PerfOutcome) -> None:
    r, m = outcome.result, outcome.result.metrics
    typer.echo(f"{r.target}: {r.load_description}")
    typer.echo(
        f"requests: {m.n_requests} · complete {m.n_ok} · errors {m.n_error} · "
        f"timeouts {m.n_timeout} · truncated {m.n_truncated} · below length floor {m.n_short}"
    )
    for name, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"), ("itl_ms", "ITL"),
                        ("e2e_ms", "E2E"), ("lag_ms", "lag")):  # fmt: skip
        d = getattr(m, name)
        cells = []
        for q in d.quantiles:
            cells.append(f"p{q.p * 100:g} {_ms(q.value)} [{_ms(q.lower)}, {_ms(q.upper)}]")
        typer.echo(f"  {label:5} n={d.n:<5} " + " · ".join(cells))
    typer.echo(
        f"throughput {m.request_throughput:.2f} req/s, {m.output_token_throughput:.1f} tok/s "
        f"(tokens: {r.token_counting}); goodput at this load {m.goodput_at_load:.2f} req/s; "
        f"SLO attainment {m.attainment.met}/{m.attainment.n}"
    )
    if r.sweep is not None:
        typer.echo(
            f"DistServe goodput at ≥{r.sweep.share:g} attainment: "
            f"{r.sweep.goodput_observed} req/s observed, {r.sweep.goodput_confident} req/s "
            "on the lower bound"
        )
    e = r.energy
    typer.echo(
        f"energy: {e.reading.provenance} ({e.reading.detail})"
        + (
            f": {e.joules_per_output_token:.4g} J/token, {e.average_watts:.1f} W"
            if e.joules_per_output_token is not None and e.average_watts is not None
            else ""
        )
    )
    for message, count in sorted(m.errors.items(), key=lambda kv: -kv[1])[:5]:
        typer.echo(f"failed: {count}× {message}", err=True)
    for note in r.reliability_notes:
        typer.echo(f"UNRELIABLE: {note}", err=True)
    for what in r.unmeasured:
        typer.echo(f"not measured: {what}", err=True)
    typer.echo(f"wrote {outcome.json_path} and {outcome.html_path}")
    if not r.complete:
        typer.echo(
            "INCOMPLETE: the run was interrupted; these figures cover only the requests "
            "that finished and no requirement passes on them. A latency run is not "
            "resumed (a restarted schedule would change the load): measure it again.",
            err=True,
        )
    if m.n_ok == 0:
        typer.echo("error: no request completed; see the errors above and in perf.json", err=True)
        raise typer.Exit(1)


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"
