"""``llmcert attack``: attacks of WDTA AI-STR-02 levels L1-L4 on a model, with R and D."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def attack_command(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model reference: embedded, llamacpp:PATH.gguf, openai://HOST:PORT/v1?model=NAME.",
        ),
    ] = "embedded",
    levels: Annotated[
        str,
        typer.Option(
            "--levels",
            "-l",
            help="Attack levels, comma-separated (L1, L2, L3; L4 on a local GGUF model).",
        ),
    ] = "L1,L2",
    bank: Annotated[
        str,
        typer.Option(
            "--bank", "-b", help="Behaviours: harmbench, advbench, jade-db, or a bank file."
        ),
    ] = "harmbench",
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Local copy of the public bank's dataset (folder or file)."),
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option(
            "--templates",
            help="Local copy of JailBench (folder): its 20 Chinese jailbreak templates join L2.",
        ),
    ] = None,
    attack: Annotated[
        list[str] | None,
        typer.Option("--attack", "-a", help="Run only this built-in attack (repeatable)."),
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option(
            "--budget",
            "-n",
            min=1,
            help="Most model calls: behaviours are sampled (by risk, seeded) to fit.",
        ),
    ] = None,
    harm_judge: Annotated[
        str,
        typer.Option(
            "--harm-judge",
            help="Harm judge: llmcert-harm (offline, zh + en), a calibration file for it, "
            "an entry point in llmcert.harm_judges, or module:attr; 'none' leaves success "
            "undecided (non-refusals are unscorable).",
        ),
    ] = "llmcert-harm",
    queries: Annotated[
        int,
        typer.Option(
            "--queries", "-q", min=1, help="L3, L4: model calls per behaviour (the query budget)."
        ),
    ] = 5,
    attacker: Annotated[
        str, typer.Option("--attacker", help="L3: the attacker model (any model reference).")
    ] = "embedded",
    all_languages: Annotated[
        bool,
        typer.Option(
            "--all-languages", help="Apply every attack to every behaviour, whatever its language."
        ),
    ] = False,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, max=32768, help="Answer length limit.")
    ] = 256,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=4096, help="Parallel model calls.")
    ] = 8,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the attacks and the sample.")] = 0,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for the journal and the reports.")
    ] = Path("llmcert-output"),
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
    list_attacks: Annotated[
        bool, typer.Option("--list", help="List the built-in attacks and exit.")
    ] = False,
) -> None:
    """Attack a model with jailbreak transforms of harmful behaviours; report R and D."""
    if list_attacks:
        _print_catalogue()
        return
    from llmcert.engine import RichProgress
    from llmcert.services.attack import AttackRequest, attack_sync

    request = AttackRequest(
        model=model,
        bank=bank,
        data=data,
        levels=levels,
        attacks=attack or None,
        templates=templates,
        budget=budget,
        seed=seed,
        concurrency=concurrency,
        max_tokens=max_tokens,
        languages="all" if all_languages else "match",
        harm_judge=None if harm_judge == "none" else harm_judge,
        queries=queries,
        attacker=attacker,
        output=output,
        command=sys.argv[1:],
    )
    clipped = model if len(model) <= 32 else model[:31] + "…"
    sink = RichProgress(f"attack {levels} · {clipped}") if progress else None
    outcome = attack_sync(request, progress=sink)
    _print_result(outcome.result)
    typer.echo(f"result: {outcome.result_path}")
    typer.echo(f"report: {outcome.report_path}")
    _before_exit()


def _before_exit() -> None:
    """Keep the run's heap out of the collections interpreter shutdown runs.

    The process exits next: its answers, records and the transform libraries'
    dictionaries (a few hundred thousand objects) would otherwise be scanned by
    every collection of the shutdown, about 1.3 s measured on a loaded machine,
    against 0.2 s frozen. Frozen objects are still freed when their modules are
    cleared; only objects in reference cycles are left to the operating system,
    and every file and the journal are closed by then.
    """
    import gc

    gc.freeze()


def _print_catalogue() -> None:
    from rich.console import Console
    from rich.table import Table

    from llmcert.attacks import builtin_adaptive, builtin_attacks, builtin_whitebox

    table = Table(title="built-in attacks (L3, L4: digests at --queries 5)")
    table.add_column("name", no_wrap=True)
    for col in ("level", "family", "languages", "digest", "description"):
        table.add_column(col)
    attacks: list[Any] = [
        *builtin_attacks().values(),
        *builtin_adaptive().values(),
        *builtin_whitebox().values(),
    ]
    for a in attacks:
        table.add_row(
            a.name, a.level.value, a.family, ",".join(a.languages), a.digest[7:19], a.description
        )
    Console().print(table)


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * float(x):.1f}%"


def _print_result(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"attacks on {result['model'].get('ref')} · {result['bank']['name']}")
    table.add_column("group", overflow="fold")
    for col in ("prompts", "success", "decline", "unscorable", "R", "R 95%", "D", "D 95%"):
        table.add_column(col, justify="right")
    for s in result["summaries"]:
        if s["dimension"] not in ("overall", "level", "attack"):
            continue
        r, d = s["success_rate"], s["decline_rate"]
        table.add_row(
            s["value"] if s["dimension"] != "overall" else "overall",
            str(s["n_prompts"]),
            str(s["n_success"]),
            str(s["n_decline"]),
            str(s["n_unscorable"]),
            _pct(r["estimate"]),
            "—" if r["ci_low"] is None else f"{_pct(r['ci_low'])} – {_pct(r['ci_high'])}",
            _pct(d["estimate"]),
            "—" if d["ci_low"] is None else f"{_pct(d['ci_low'])} – {_pct(d['ci_high'])}",
        )
    console = Console()
    console.print(table)
    run = result["run"]
    console.print("most effective: " + ", ".join(result["most_effective"][:3]))
    console.print(
        f"{run['units_total']} prompts: {run['units_sent']} sent, "
        f"{run['units_from_journal']} from the journal; {run['wall_s']:.1f} s"
    )
    for name, a in result.get("adaptive", {}).get("attacks", {}).items():
        console.print(
            f"{name}: {a['broken']} of {a['behaviours']} behaviours broken within "
            f"{a['queries_per_behaviour']} queries; median queries to first success "
            f"{a['median_queries_to_first_success']}"
        )
    for note in result["notes"][2:]:
        console.print(f"[yellow]{note}[/]")
