"""``llmcert perf``: figures printed with the self-test, files written, bad input refused."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmcert.cli import app
from llmcert.testing import ServerProcess, fake_server_process


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with fake_server_process(
        latency=0.02, extra_args=("--stream", "--token-interval", "0.005")
    ) as srv:
        yield srv


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["perf", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_a_run_prints_its_figures_and_self_test_and_writes_json_and_html(
    server: ServerProcess, tmp_path: Path
) -> None:
    code, out, err = invoke(
        "--model", server.model_ref, "--rate", "20", "--requests", "20",
        "--output-tokens", "8", "--slo-ttft-ms", "1000", "--output", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert "client self-test at 20 req/s" in err
    assert "TTFT" in out
    assert "p99" in out
    assert "energy: unavailable" in out
    assert "not measured: energy" in err
    (run_dir,) = tmp_path.iterdir()
    data = json.loads((run_dir / "perf.json").read_text())
    assert data["schema"] == "llmcert.perf/1"
    assert len(data["traces"]) == 20
    assert data["selftest"]["target_rate"] == 20
    html = (run_dir / "perf.html").read_text()
    assert "<svg" in html
    assert "Latency CDF" in html


def test_an_unreachable_endpoint_exits_1_and_says_what_was_not_measured(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = invoke(
        "--model", f"openai://127.0.0.1:{port}/v1?model=m", "--rate", "50", "--requests", "3",
        "--no-selftest", "--output", str(tmp_path),
    )  # fmt: skip
    assert code == 1
    assert "no request completed" in err
    assert "cannot reach" in err
    assert "not measured: latency" in err
    assert "not measured: client self-test" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "1", "--concurrency", "2"], "exactly one of --rate"),
        ([], "exactly one of --rate"),
        (["--rate", "1", "--meter", "nonsense"], "unknown meter"),
        (["--rate", "1", "--meter", "powercap:/nonexistent"], "no RAPL package"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    code, _, err = invoke("--model", "openai://127.0.0.1:9/v1?model=m", *args, "-o", str(tmp_path))
    assert code == 3
    assert message in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_latency_run_is_not_resumed_and_a_missing_journal_is_named() -> None:
    code, _, err = invoke("--resume")
    assert code == 3
    assert "not resumed" in err
    assert "--from-journal" in err
    code, _, err = invoke("--from-journal", "/nonexistent/perf-run")
    assert code == 3
    assert "cannot read the run journal /nonexistent/perf-run" in err
