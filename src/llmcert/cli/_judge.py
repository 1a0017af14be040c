"""``llmcert judge refusal``: label (prompt, response) pairs in bulk with the offline judge."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

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

    from llmcert.judges._refusal_io import read_table, table_format, write_table
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
