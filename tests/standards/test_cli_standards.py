"""``standards`` commands through a small app that mounts the sub-app as the CLI will."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from llmcert.cli._standards import standards_app
from llmcert.standards._catalog import builtin_standard_path

app = typer.Typer()
app.add_typer(standards_app, name="standards")
runner = CliRunner()


def example_text() -> str:
    path = builtin_standard_path("example-capability")
    assert path is not None
    return path.read_text(encoding="utf-8")


def test_list_shows_builtin_standards() -> None:
    result = runner.invoke(app, ["standards", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "example-capability" in line)
    assert "1.0.0" in row
    assert "published" in row
    assert " 2 " in row  # number of requirements


def test_show_prints_clause_requirement_tree() -> None:
    result = runner.invoke(app, ["standards", "show", "example-capability"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "example-capability@1.0.0" in out
    assert out.index("4.1") < out.index("mc-accuracy") < out.index("4.2") < out.index("bank-size")
    assert "default: accuracy" in out
    assert "≥ 0.25, confidence_bound at 0.95, min n 20" in out


def test_validate_accepts_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(example_text(), encoding="utf-8")
    result = runner.invoke(app, ["standards", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("valid: example-capability@1.0.0 (published), 2 clauses")


def test_validate_reports_one_line_with_file_line_and_field(tmp_path: Path) -> None:
    text = example_text().replace("threshold: 0.25", "threshold: 25")
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["standards", "validate", str(path)])
    assert result.exit_code == 3
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "threshold: 25" in row)
    errors = [row for row in result.output.splitlines() if row.startswith("error:")]
    assert len(errors) == 1
    assert f"bad.yaml:{line}: requirements.0.threshold" in errors[0]


def test_diff_spells_out_changes(tmp_path: Path) -> None:
    new = (
        example_text()
        .replace("version: 1.0.0", "version: 1.1.0")
        .replace("threshold: 0.25", "threshold: 0.3")
        + '  - id: extra-check\n    clause: "4.2"\n'
        "    measure: {kind: evidence, check: ai-bom-present}\n"
    )
    path = tmp_path / "new.yaml"
    path.write_text(new, encoding="utf-8")
    result = runner.invoke(
        app, ["standards", "diff", "example-capability", str(path)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "example-capability@1.0.0 → example-capability@1.1.0" in out
    assert "version: 1.0.0 → 1.1.0" in out
    assert "threshold: 0.25 → 0.3" in out
    assert "+ extra-check" in out


def test_diff_of_same_standard_says_so() -> None:
    result = runner.invoke(app, ["standards", "diff", "example-capability", "example-capability"])
    assert result.exit_code == 0, result.output
    assert "no differences" in result.output
