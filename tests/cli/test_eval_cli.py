"""``llmcert eval`` as a user runs it: one clear error line and exit 3, or a table and two paths."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmcert import __version__
from llmcert.cli import app
from llmcert.testing import FakeOpenAIServer

REPO = Path(__file__).resolve().parents[2]
SERVER_KEY = "sk-fake-cli-key-a83e2d"
WRONG_KEY = "sk-wrong-cli-key-5b0c"
EXIT_ERROR = 3


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def cli_env(
    tmp_path: Path, proxy_port: int | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """A clean environment: no ambient keys, a private dataset cache, and any download
    routed to a loopback port (so nothing leaves the machine)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LLMCERT_API_KEY", "OPENAI_API_KEY") and not k.lower().endswith("_proxy")
    }
    proxy = f"http://127.0.0.1:{proxy_port or closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[name] = proxy
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["LLMCERT_CACHE_DIR"] = str(tmp_path / "cache")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def llmcert(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmcert", *args],
        env=env if env is not None else cli_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def evaluate_cli(
    tmp_path: Path, model: str, suite: str | Path, out: Path, *extra: str, **env: str
) -> subprocess.CompletedProcess[str]:
    args = ["eval", "--model", model, "--suite", str(suite), "--output", str(out), *extra]
    return llmcert(tmp_path, *args, env=cli_env(tmp_path, extra=env))


def assert_one_error_line(
    proc: subprocess.CompletedProcess[str], out: Path, *fragments: str
) -> str:
    assert proc.returncode == EXIT_ERROR, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    (line,) = lines
    assert line.startswith("error:")
    for fragment in fragments:
        assert fragment in line
    assert not out.exists(), "a failed run left an output directory"
    return line


# -- bad input ------------------------------------------------------------------------------


def test_unknown_suite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = evaluate_cli(tmp_path, "mock:echo", "no-such-suite", out)
    assert_one_error_line(proc, out, "no-such-suite", "default")


def test_unknown_model_scheme(tmp_path: Path, tiny_suite: Path) -> None:
    out = tmp_path / "out"
    proc = evaluate_cli(tmp_path, "gpt:4", tiny_suite, out)
    assert_one_error_line(proc, out, "'gpt'", "openai://HOST:PORT/v1?model=NAME")


def test_api_key_in_the_model_reference(tmp_path: Path, tiny_suite: Path) -> None:
    out = tmp_path / "out"
    ref = f"openai://127.0.0.1:{closed_port()}/v1?model=m&api_key={SERVER_KEY}"
    proc = evaluate_cli(tmp_path, ref, tiny_suite, out)
    assert_one_error_line(proc, out, "LLMCERT_API_KEY")
    assert SERVER_KEY not in proc.stderr + proc.stdout


def test_bad_port_in_the_model_reference(tmp_path: Path, tiny_suite: Path) -> None:
    out = tmp_path / "out"
    proc = evaluate_cli(tmp_path, "openai://127.0.0.1:99999/v1?model=m", tiny_suite, out)
    assert_one_error_line(proc, out, "99999")


def test_unreachable_endpoint(tmp_path: Path, tiny_suite: Path) -> None:
    out = tmp_path / "out"
    port = closed_port()
    proc = evaluate_cli(tmp_path, f"openai://127.0.0.1:{port}/v1?model=m", tiny_suite, out)
    assert_one_error_line(proc, out, f"127.0.0.1:{port}")


def test_wrong_api_key(tmp_path: Path, tiny_suite: Path) -> None:
    out = tmp_path / "out"
    with FakeOpenAIServer(api_key=SERVER_KEY).run_in_thread() as srv:
        ref = f"openai://127.0.0.1:{srv.port}/v1?model={srv.model}"
        proc = evaluate_cli(tmp_path, ref, tiny_suite, out, LLMCERT_API_KEY=WRONG_KEY)
        assert srv.count(outcome=401) > 0
        assert srv.generations_by_key() == {}
    assert_one_error_line(proc, out, "401", "LLMCERT_API_KEY")
    for key in (SERVER_KEY, WRONG_KEY):
        assert key not in proc.stderr + proc.stdout


def test_malformed_suite_yaml_names_file_line_and_field(tmp_path: Path, tiny_suite: Path) -> None:
    text = tiny_suite.read_text(encoding="utf-8").replace("max_tokens: 16", "max_tokens: lots")
    tiny_suite.write_text(text, encoding="utf-8")
    line_no = 1 + next(i for i, ln in enumerate(text.splitlines()) if "max_tokens" in ln)
    out = tmp_path / "out"
    proc = evaluate_cli(tmp_path, "mock:echo", tiny_suite, out)
    assert_one_error_line(proc, out, f"{tiny_suite}:{line_no}", "generation.max_tokens")


def test_malformed_items_file_names_file_and_line(tmp_path: Path, tiny_suite: Path) -> None:
    items_path = tiny_suite.parent / "items.jsonl"
    lines = items_path.read_text(encoding="utf-8").splitlines()
    lines[2] = '{"id": "q2", "input": oops}'
    items_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = evaluate_cli(tmp_path, "mock:echo", tiny_suite, out)
    assert_one_error_line(proc, out, f"{items_path}:3")


@contextmanager
def loopback_sink() -> Iterator[tuple[int, list[bytes]]]:
    """A listener that records the first bytes of each connection and hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    seen.append(conn.recv(4096))
                except OSError:
                    seen.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], seen
    finally:
        stop.set()
        thread.join()
        server.close()


def test_importer_suite_without_data_says_to_pass_data(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with loopback_sink() as (port, seen):
        env = cli_env(tmp_path, proxy_port=port)
        args = ["eval", "--model", "mock:echo", "--suite", "gsm8k", "--output", str(out)]
        proc = llmcert(tmp_path, *args, env=env)
    assert_one_error_line(proc, out, "--data", "gsm8k")
    # The download attempt went to the loopback proxy, not out to the network.
    assert seen
    assert all(chunk.startswith(b"CONNECT ") for chunk in seen)


# -- successful runs ------------------------------------------------------------------------


def result_of(proc: subprocess.CompletedProcess[str]) -> tuple[Path, Path, dict[str, Any]]:
    lines = proc.stdout.splitlines()
    result_line = [ln for ln in lines if ln.startswith("result: ")]
    report_line = [ln for ln in lines if ln.startswith("report: ")]
    assert len(result_line) == len(report_line) == 1, proc.stdout
    result = Path(result_line[0].removeprefix("result: "))
    report = Path(report_line[0].removeprefix("report: "))
    return result, report, json.loads(result.read_text(encoding="utf-8"))


def test_mock_run_prints_table_and_paths(tmp_path: Path, tiny_suite: Path) -> None:
    out = tmp_path / "out"
    proc = evaluate_cli(tmp_path, "mock:echo", tiny_suite, out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "tiny 1.0.0 on mock:echo" in proc.stdout
    assert "accuracy" in proc.stdout
    assert "language=zh" in proc.stdout
    assert "66.7%" in proc.stdout
    result, report, data = result_of(proc)
    assert result.is_file()
    assert report.is_file()
    assert result.parent.parent == out
    assert len(data["units"]) == 12


def test_limit_evaluates_only_the_first_items(tmp_path: Path, tiny_suite: Path) -> None:
    out = tmp_path / "out"
    proc = evaluate_cli(tmp_path, "mock:echo", tiny_suite, out, "--limit", "3", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    _, _, data = result_of(proc)
    assert [u["item_id"] for u in data["units"]] == ["q0", "q1", "q2"]
    assert data["timings"]["units_total"] == 3


def test_run_against_a_server_never_shows_the_key(tmp_path: Path, tiny_suite: Path) -> None:
    out = tmp_path / "out"
    log = tmp_path / "server.jsonl"
    with FakeOpenAIServer(api_key=SERVER_KEY, log_path=log).run_in_thread() as srv:
        ref = f"openai://127.0.0.1:{srv.port}/v1?model={srv.model}"
        proc = evaluate_cli(tmp_path, ref, tiny_suite, out, LLMCERT_API_KEY=SERVER_KEY)
        generated = srv.generations_by_key()
    assert proc.returncode == 0, proc.stderr
    assert len(generated) == 12
    assert SERVER_KEY not in proc.stdout + proc.stderr
    _, _, data = result_of(proc)
    for path in [*(p for p in out.rglob("*") if p.is_file()), log]:
        assert SERVER_KEY.encode() not in path.read_bytes(), path
    assert {u["request_key"] for u in data["units"]} == set(generated)


def test_a_server_whose_greedy_answers_depend_on_request_order_is_flagged(
    tmp_path: Path, tiny_suite: Path
) -> None:
    with FakeOpenAIServer(quirks=["prompt-cache"]).run_in_thread() as srv:
        ref = f"openai://127.0.0.1:{srv.port}/v1?model={srv.model}"
        proc = evaluate_cli(tmp_path, ref, tiny_suite, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    flat = " ".join(proc.stdout.split())
    assert "server: order-dependent: the same greedy canary gave 2 different texts" in flat
    _, _, data = result_of(proc)
    assert data["model"]["details"]["greedy_order_check"].startswith("order-dependent: ")


# -- help and version -----------------------------------------------------------------------


def test_eval_help_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["eval", "--help"])
    assert result.exit_code == 0
    for option in ("--model", "--suite", "--data", "--limit", "--repeats", "--output"):
        assert option in result.output


def test_version(tmp_path: Path) -> None:
    proc = llmcert(tmp_path, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"llmcert {__version__}"


def test_in_process_error_exit_code() -> None:
    result = CliRunner().invoke(app, ["eval", "--model", "nope:x", "--suite", "default"])
    assert result.exit_code == EXIT_ERROR
    assert "unknown model scheme" in result.output


@pytest.mark.parametrize("args", [["--help"], ["eval", "--help"]])
def test_help_as_a_process(tmp_path: Path, args: list[str]) -> None:
    proc = llmcert(tmp_path, *args)
    assert proc.returncode == 0, proc.stderr
    assert "eval" in proc.stdout
