"""``llmcert attack`` as a user runs it: a table and two paths, or one clear error line."""

from __future__ import annotations

import json
from pathlib import Path

from llmcert.testing import FakeOpenAIServer, ThreadedServer
from tests.cli.test_eval_cli import EXIT_ERROR, llmcert
from tests.services.attack.test_attack import REFUSAL, TRIGGERS, write_bank

JUDGE = "llmcert.testing._harm_judge:MarkerHarmJudge"


def test_attack_prints_rates_and_writes_both_reports(tmp_path: Path) -> None:
    bank = write_bank(tmp_path / "bank.jsonl", n=3)
    fake = FakeOpenAIServer(policy="vulnerable", answers=TRIGGERS, default_answer=REFUSAL)
    with ThreadedServer(fake) as server:
        model = f"openai://127.0.0.1:{server.port}/v1?model=fake-model"
        args = ["attack", "--model", model, "--bank", str(bank), "--levels", "L2"]
        proc = llmcert(tmp_path, *args, "--harm-judge", JUDGE, "--no-progress", "-o", "out")
    assert proc.returncode == 0, proc.stderr
    assert "l2.prefix-injection" in proc.stdout
    lines = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    result = json.loads(Path(tmp_path / lines["result"]).read_text(encoding="utf-8"))
    assert result["most_effective"][0] == "l2.prefix-injection"
    assert {a["level"] for a in result["attacks"]} == {"L2"}
    assert (tmp_path / lines["report"]).is_file()


def test_attack_list_and_errors(tmp_path: Path) -> None:
    listed = llmcert(tmp_path, "attack", "--list")
    assert listed.returncode == 0
    assert "l2.zh-homophone" in listed.stdout
    assert "l4.suffix-search" in listed.stdout
    missing = llmcert(tmp_path, "attack", "--bank", "harmbench", "--levels", "L1")
    assert missing.returncode == EXIT_ERROR
    assert "--data" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    unknown = llmcert(tmp_path, "attack", "--levels", "L7", "--bank", str(tmp_path))
    assert unknown.returncode == EXIT_ERROR
    assert "unknown attack level" in unknown.stderr
