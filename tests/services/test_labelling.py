"""Drawing a model's answers for human labelling, and calibrating the refusal judge on them:
the assessor's route from a wide shipped calibration to one measured on the model itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcert.errors import SpecError
from llmcert.services._request import EvalRequest
from llmcert.services.evaluate import evaluate
from llmcert.services.labelling import COLUMNS, find_results, sample_for_labelling
from tests.conftest import RejectingMock, write_suite

REFUSAL = "I'm sorry, but I can't help with that request."


async def evaluated(tmp_path: Path, name: str, items: list[dict[str, object]]) -> Path:
    suite = write_suite(tmp_path / name, items, scorer="refusal", name=name)
    request = EvalRequest(model="mock:echo", suite=str(suite), output=tmp_path / "out")
    await evaluate(request, backend=RejectingMock("echo"))
    return tmp_path / "out"


def items(n: int, *, rejected: int = 0) -> list[dict[str, object]]:
    return [
        {
            "id": f"i{i:03d}",
            "input": f"reject {i}"
            if i < rejected
            else (f"{REFUSAL} ({i})" if i % 2 else f"Yes {i}."),
            "language": "en",
        }
        for i in range(n)
    ]


async def test_a_uniform_seeded_sample_of_answered_units(tmp_path: Path) -> None:
    out = await evaluated(tmp_path, "bank", items(40, rejected=4))
    sample = sample_for_labelling([out], 10, seed=3)
    assert sample.population == 36  # failed calls have nothing to label
    assert len(sample.rows) == 10
    assert len({r["key"] for r in sample.rows}) == 10
    for row in sample.rows:
        assert tuple(row) == COLUMNS
        assert row["label"] == ""  # for the labeller; the judge's label is not shown
        assert row["suite"] == "bank"
        assert row["source"].startswith("mock:echo sha256:")
        assert row["response"] == row["prompt"]  # the echo model's answer
        assert "reject" not in row["prompt"]
    assert sample_for_labelling([out], 10, seed=3).rows == sample.rows
    assert sample_for_labelling([out], 10, seed=4).rows != sample.rows
    # Asking for more than there are gives them all, once each.
    assert len(sample_for_labelling([out], 100).rows) == 36


async def test_suites_can_be_chosen_and_bad_requests_are_named(tmp_path: Path) -> None:
    await evaluated(tmp_path, "first", items(6))
    out = await evaluated(tmp_path, "second", items(8))
    assert len(find_results([out])) == 2
    only = sample_for_labelling([out], 50, suites=["second"])
    assert {r["suite"] for r in only.rows} == {"second"}
    assert only.population == 8
    with pytest.raises(SpecError, match="no answered unit of suite nope"):
        sample_for_labelling([out], 5, suites=["nope"])
    with pytest.raises(SpecError, match="no such file"):
        sample_for_labelling([tmp_path / "missing"], 5)
    with pytest.raises(SpecError, match=r"no result\.json"):
        sample_for_labelling([tmp_path / "first"], 5)  # a suite directory, not an output
    with pytest.raises(SpecError, match="at least 1"):
        sample_for_labelling([out], 0)


async def test_labelled_sample_calibrates_the_refusal_judge(tmp_path: Path) -> None:
    from llmcert.judges import measure
    from llmcert.judges._table import read_table, write_table
    from llmcert.judges.refusal.calibration import read_refusal_calibration

    out = await evaluated(tmp_path, "bank", items(60))
    to_label = tmp_path / "to-label.jsonl"
    write_table(to_label, COLUMNS, sample_for_labelling([out], 40).rows)
    # An unlabelled row is refused, naming its line.
    with pytest.raises(SpecError, match="empty label") as info:
        measure.read_labelled(to_label, "refusal")
    assert info.value.line == 1
    # The labeller fills in the labels (here: the answers that are the apology are refusals).
    table = read_table(to_label)
    for row in table.rows:
        row["label"] = "full_refusal" if row["response"].startswith(REFUSAL) else "full_compliance"
    write_table(to_label, COLUMNS, table.rows)
    rows = measure.read_labelled(to_label, "refusal")
    judged, identity = measure.offline_labels("llmcert-refusal", rows)
    _, binary = measure.compare(rows, judged, "refusal")
    content = measure.calibration_content(
        identity, binary, "refusal", "to-label.jsonl", by_source={rows[0].source: binary}
    )
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    rates = read_refusal_calibration(path).error_rates()
    assert rates.n_positive is not None
    assert rates.n_negative is not None
    assert rates.n_positive + rates.n_negative == 40
    assert rates.sensitivity == rates.specificity == 1.0  # the echoed apology is unmistakable


async def test_the_command_writes_the_sample(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from llmcert.cli import app

    out = await evaluated(tmp_path, "bank", items(12))
    target = tmp_path / "to-label.csv"
    result = CliRunner().invoke(
        app, ["judge", "sample", str(out), "-n", "5", "--seed", "1", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 5 of 12 answers" in result.output
    assert target.read_text("utf-8").splitlines()[0] == ",".join(COLUMNS)
    bad = CliRunner().invoke(app, ["judge", "sample", str(out), "-o", str(tmp_path / "x.txt")])
    assert bad.exit_code == 3
    assert not (tmp_path / "x.txt").exists()
