"""``llmcert judge refusal|llm``: label (prompt, response) pairs in bulk, offline or with an LLM."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

#: Columns added to every row; an input that already has them is overwritten.
ADDED_COLUMNS = ("refusal_label", "refusal_score", "judge")


def judge_refusal_command(
    input: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help="JSONL or CSV with 'prompt' and 'response' columns (UTF-8)."
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the labelled table (.jsonl or .csv); other columns are kept.",
        ),
    ],
) -> None:
    """Label each response as full compliance, full refusal or partial refusal, offline."""
    from rich.console import Console
    from rich.table import Table as RichTable

    from llmcert.judges._table import read_table, table_format, write_table
    from llmcert.judges.refusal import RefusalJudge, RefusalLabel

    table_format(output)  # an unusable output name fails before any work
    table = read_table(input)
    judge = RefusalJudge()
    counts: Counter[RefusalLabel] = Counter()
    for row in table.rows:
        verdict = judge.judge(row["prompt"], row["response"])
        counts[verdict.label] += 1
        row["refusal_label"] = verdict.label.value
        row["refusal_score"] = round(verdict.score, 4)
        row["judge"] = judge.ident
    columns = [c for c in table.columns if c not in ADDED_COLUMNS] + list(ADDED_COLUMNS)
    write_table(output, columns, table.rows)

    summary = RichTable(
        title=f"{judge.ident} on {input.name}", caption=f"data {judge.digest[7:19]} · {output}"
    )
    summary.add_column("label")
    summary.add_column("pairs", justify="right")
    summary.add_column("share", justify="right")
    total = len(table.rows)
    for label in RefusalLabel:
        share = f"{100 * counts[label] / total:.1f}%" if total else "—"
        summary.add_row(label.value, str(counts[label]), share)
    summary.add_row("total", str(total), "100.0%" if total else "—")
    Console().print(summary)


def judge_llm_command(
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="The judge model: any model reference (API key from the env)."
        ),
    ],
    input: Annotated[
        Path,
        typer.Option(
            "--input", "-i", help="JSONL or CSV with 'prompt' and 'response' columns (UTF-8)."
        ),
    ],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where to write the labelled table (.jsonl or .csv)."),
    ],
    rubric: Annotated[
        str,
        typer.Option("--rubric", "-r", help="Built-in rubric (refusal-v1, safety-v1) or a file."),
    ] = "refusal-v1",
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=256, help="Parallel judge calls.")
    ] = 4,
) -> None:
    """Label each pair with an LLM judge under a pinned, versioned rubric.

    An answer the rubric cannot parse is written as unparsed with the reason, never
    guessed; a failed call is marked as such. The judge's identity (rubric digest,
    settings, model identity) goes in every row.
    """
    import asyncio
    import json

    from rich.console import Console
    from rich.table import Table as RichTable

    from llmcert.judges._table import read_table, table_format, write_table
    from llmcert.judges.llm_judge import LlmJudge, load_rubric
    from llmcert.models import ModelRef, open_backend

    table_format(output)
    spec = load_rubric(rubric)
    ref = ModelRef.parse(model)
    table = read_table(input)

    async def run() -> tuple[list[Any], dict[str, Any]]:
        backend = open_backend(ref)
        try:
            judge = LlmJudge(backend, spec)
            pairs = [(row["prompt"], row["response"]) for row in table.rows]
            verdicts = await judge.judge_many(pairs, concurrency=concurrency)
            return verdicts, judge.identity()
        finally:
            await backend.aclose()

    verdicts, identity = asyncio.run(run())
    ident = json.dumps(
        {"name": identity["name"], "version": identity["version"], "digest": identity["digest"]}
    )
    added = ("judge_label", "judge_parsed", "judge_problem", "judge")
    for row, verdict in zip(table.rows, verdicts, strict=True):
        row["judge_label"] = verdict.label or ""
        row["judge_parsed"] = verdict.parsed
        row["judge_problem"] = verdict.problem or ""
        row["judge"] = ident
    columns = [c for c in table.columns if c not in added] + list(added)
    write_table(output, columns, table.rows)

    counts: Counter[str] = Counter(
        v.label if v.label else ("(failed call)" if v.failed_call else "(unparsed)")
        for v in verdicts
    )
    summary = RichTable(
        title=f"{identity['name']}@{identity['version']} on {input.name}",
        caption=f"judge {identity['digest'][7:19]} · {output}",
    )
    summary.add_column("label")
    summary.add_column("pairs", justify="right")
    for label, n in sorted(counts.items()):
        summary.add_row(label, str(n))
    summary.add_row("total", str(len(verdicts)))
    Console().print(summary)
