"""``llmcert assess`` as a CI job uses it: a verdict table, exit 0/1/2/3, JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcert.cli import app
from tests.conftest import write_suite
from tests.services.assess.test_assess import ACCURACY, DOCUMENT, SIZE, echo_items, write_standard


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["assess", "--no-progress", "--model", "mock:echo", *args], env={"COLUMNS": "200"}
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("wrong", "requirements", "code", "word"),
    [
        (2, ACCURACY + SIZE, 0, "PASS"),
        (36, ACCURACY + SIZE, 1, "FAIL"),
        (2, ACCURACY + DOCUMENT, 2, "INCONCLUSIVE"),
    ],
)
def test_exit_code_follows_the_verdict(
    tmp_path: Path, wrong: int, requirements: str, code: int, word: str
) -> None:
    write_suite(tmp_path / "suite", echo_items(40, wrong=wrong))
    standard = write_standard(tmp_path, requirements)
    junit = tmp_path / "junit.xml"
    exit_code, out, _ = invoke(
        "--standard", str(standard), "--output", str(tmp_path / "out"), "--junit", str(junit)
    )
    assert exit_code == code
    assert f"verdict: {word}" in out
    assert "accuracy" in out
    assert "assessment:" in out
    assert "report:" in out
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert {c.get("name") for c in cases} >= {"accuracy"}


def test_evidence_option_turns_an_attestation_into_a_pass(tmp_path: Path) -> None:
    write_suite(tmp_path / "suite", echo_items(40))
    standard = write_standard(tmp_path, ACCURACY + DOCUMENT)
    doc = tmp_path / "agreement.txt"
    doc.write_text("terms", encoding="utf-8")
    exit_code, out, _ = invoke(
        "--standard",
        str(standard),
        "--output",
        str(tmp_path / "out"),
        "--evidence",
        f"agreement={doc}",
    )
    assert exit_code == 0, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--standard", "no-such-standard"], "no built-in standard"),
        (["--data", "nonsense"], "--data expects NAME=VALUE"),
        (["--not-applicable", "9.9=reason"], "does not have"),
        (["--evidence", "a=x", "--evidence", "a=y"], "names 'a' twice"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_3(
    tmp_path: Path, args: list[str], message: str
) -> None:
    exit_code, _, err = invoke("--output", str(tmp_path / "out"), *args)
    assert exit_code == 3
    assert err.startswith("error:")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_usage_error_exits_3_so_that_2_means_inconclusive() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "llmcert", "assess", "--no-such-option"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3
    assert "No such option" in done.stderr
