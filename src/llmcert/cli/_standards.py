"""``llmcert standards``: list, show, validate and compare standards.

Errors are raised as :class:`~llmcert.errors.SpecError`; the application's error
handler prints them as one line and exits with code 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmcert.cli._errors import handle_errors

standards_app = typer.Typer(
    name="standards",
    help="List, show, validate and compare standards.",
    no_args_is_help=True,
)


@standards_app.command("list")
@handle_errors
def list_command() -> None:
    """List the built-in standards."""
    from rich.console import Console
    from rich.table import Table

    from llmcert.standards._catalog import builtin_standards

    table = Table("id", "version", "status", "requirements", "title")
    for spec in builtin_standards():
        table.add_row(
            spec.id, spec.version, spec.status.value, str(len(spec.requirements)), spec.title
        )
    Console().print(table)


@standards_app.command("show")
@handle_errors
def show_command(
    standard: Annotated[str, typer.Argument(help="built-in standard id or a standard file")],
) -> None:
    """Show a standard as a tree: clauses, then the requirements that implement them."""
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    from llmcert.standards._catalog import load_standard

    spec = load_standard(standard)
    dates = ", ".join(
        f"{name} {value}"
        for name, value in (
            ("published", spec.published),
            ("effective", spec.effective),
            ("renew by", spec.renew_by),
        )
        if value is not None
    )
    root = Tree(f"[bold]{escape(spec.ref)}[/bold] {escape(spec.title)} [{spec.status.value}]")
    if dates:
        root.add(escape(dates))
    if spec.supersedes:
        root.add("supersedes " + escape(", ".join(spec.supersedes)))
    for clause in spec.clauses:
        branch = root.add(f"[bold]{escape(clause.id)}[/bold] {escape(clause.title)}")
        for req in spec.requirements_for(clause.id):
            m = req.measure
            if m.kind == "suite":
                what = f"{m.suite}: {m.metric}"
            elif m.kind == "attack":
                what = f"attacks {','.join(m.levels)} on {m.bank}: {m.metric}"
            elif m.kind == "perf":
                what = m.describe()
            else:
                what = f"evidence check {m.check}"
            leaf = branch.add(f"{escape(req.id)} — {escape(what)}")
            sample = f", sample {req.sample}" if req.sample is not None else ""
            if req.grading is not None:
                g = req.grading
                leaf.add(
                    f"grade ≥ {g.minimum_grade} against reference unsafe rate "
                    f"{g.reference_rate:g}, at {req.confidence:g}, min n {req.min_n}{sample}, "
                    f"errors {req.errors}"
                )
            elif req.threshold is not None:
                sign = "≥" if req.direction == "at_least" else "≤"
                leaf.add(
                    f"{sign} {req.threshold:g}, {req.rule} at {req.confidence:g}, "
                    f"min n {req.min_n}{sample}, errors {req.errors}"
                )
            else:
                leaf.add(f"{req.rule}, errors {req.errors}")
    Console().print(root)


@standards_app.command("validate")
@handle_errors
def validate_command(
    file: Annotated[Path, typer.Argument(help="standard YAML file")],
) -> None:
    """Check a standard file; print where it is wrong (file, line, field)."""
    from llmcert.standards._spec import load_standard_file

    spec = load_standard_file(file)
    typer.echo(
        f"valid: {spec.ref} ({spec.status.value}), "
        f"{len(spec.clauses)} clauses, {len(spec.requirements)} requirements"
    )


@standards_app.command("diff")
@handle_errors
def diff_command(
    old: Annotated[str, typer.Argument(help="the earlier standard (id or file)")],
    new: Annotated[str, typer.Argument(help="the later standard (id or file)")],
) -> None:
    """Compare two standards by clause and requirement id."""
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    from llmcert.standards._catalog import load_standard
    from llmcert.standards._diff import EntryChange, diff_standards

    d = diff_standards(load_standard(old), load_standard(new))
    console = Console()
    if d.empty:
        console.print(f"no differences between {escape(d.old_ref)} and {escape(d.new_ref)}")
        return
    root = Tree(f"[bold]{escape(d.old_ref)} → {escape(d.new_ref)}[/bold]")

    def changes(parent: Tree, entry: EntryChange) -> None:
        node = parent.add(f"[yellow]~[/yellow] {escape(entry.id)}")
        for c in entry.changes:
            node.add(f"{escape(c.field)}: {escape(c.old)} → {escape(c.new)}")

    if d.header:
        head = root.add("standard")
        for c in d.header:
            head.add(f"{escape(c.field)}: {escape(c.old)} → {escape(c.new)}")
    for title, added, removed, changed in (
        ("clauses", d.clauses_added, d.clauses_removed, d.clauses_changed),
        ("requirements", d.requirements_added, d.requirements_removed, d.requirements_changed),
    ):
        if not (added or removed or changed):
            continue
        branch = root.add(title)
        for i in added:
            branch.add(f"[green]+[/green] {escape(i)}")
        for i in removed:
            branch.add(f"[red]-[/red] {escape(i)}")
        for entry in changed:
            changes(branch, entry)
    console.print(root)
