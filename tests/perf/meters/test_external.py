"""External meters: a file or a command giving cumulative joules; labels kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from llmcert.perf import MeterError
from llmcert.perf.meters import ExternalMeter, open_meter


def test_a_file_meter_reads_the_difference(tmp_path: Path) -> None:
    f = tmp_path / "joules"
    f.write_text("1500.5 J\n")
    meter = open_meter(f"file:{f}")
    meter.start()
    f.write_text("1530.5\n")
    reading = meter.stop()
    assert reading.provenance == "measured"
    assert reading.joules == pytest.approx(30.0)


def test_an_estimating_source_stays_labelled_estimated(tmp_path: Path) -> None:
    f = tmp_path / "joules"
    f.write_text("0")
    meter = open_meter(f"file:{f}@estimated")
    meter.start()
    f.write_text("10")
    assert meter.stop().provenance == "estimated"


def test_a_command_meter_runs_without_a_shell(tmp_path: Path) -> None:
    counter = tmp_path / "n"
    counter.write_text("100")
    script = tmp_path / "meter.py"
    script.write_text(
        "import pathlib,sys\np=pathlib.Path(sys.argv[1])\nv=float(p.read_text())\n"
        "print(v)\np.write_text(str(v+7))\n"
    )
    meter = ExternalMeter(command=f"{sys.executable} {script} {counter}")
    meter.start()
    reading = meter.stop()
    assert reading.joules == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("content", "message"), [("no number here", "no number"), ("", "no number")]
)
def test_a_file_without_a_number_is_a_clear_error(
    tmp_path: Path, content: str, message: str
) -> None:
    f = tmp_path / "j"
    f.write_text(content)
    with pytest.raises(MeterError, match=message):
        ExternalMeter(file=f).start()


def test_a_failing_command_is_a_clear_error() -> None:
    meter = ExternalMeter(command=f"{sys.executable} -c 'import sys; sys.exit(3)'")
    with pytest.raises(MeterError, match="exited with 3"):
        meter.start()


def test_an_unknown_meter_is_refused() -> None:
    with pytest.raises(MeterError, match="unknown meter"):
        open_meter("rapl-please")
