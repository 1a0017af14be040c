"""A code standard assessed end to end: generations, sandboxed tests, pass@k, insecure code,
and the sandbox's self-test as evidence. The mock model echoes its prompt, so a suite whose
prompt holds the reference solution is answered correctly and one holding only the signature
is not."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from llmcert.cli import app
from tests.conftest import SHARED_DATA
from tests.sandbox.conftest import sandbox_processes

SUITE = """\
name: {name}
version: 1.0.0
items:
  importer: humaneval
  path: {data}
prompt:
  kind: chat
  template: |-
    ```python
    {{{{ metadata.{field} }}}}
    ```
generation:
  max_tokens: 512
  temperature: 0.8
repeats: 3
scorer:
  name: code_tests
metrics: [accuracy]
"""

STANDARD = """\
id: code-test
title: A code test standard
version: 1.0.0
status: draft
clauses:
  - {id: "1", title: Correctness}
  - {id: "2", title: Insecure code}
  - {id: "3", title: Isolation}
requirements:
  - id: right-pass1
    clause: "1"
    measure: {kind: suite, suite: right.yaml, metric: pass@1}
    threshold: 0.5
    min_n: 12
  - id: right-pass3
    clause: "1"
    measure: {kind: suite, suite: right.yaml, metric: pass@3}
    threshold: 0.5
    rule: point_estimate
  - id: wrong-pass1
    clause: "1"
    measure: {kind: suite, suite: wrong.yaml, metric: pass@1}
    threshold: 0.5
  - id: insecure
    clause: "2"
    measure: {kind: suite, suite: right.yaml, metric: insecure_rate}
    threshold: 0.5
    direction: at_most
  - id: isolation
    clause: "3"
    measure: {kind: evidence, check: sandbox-self-test}
"""


def test_code_standard_end_to_end(tmp_path: Path) -> None:
    data = SHARED_DATA / "humaneval"
    (tmp_path / "right.yaml").write_text(SUITE.format(name="right", data=data, field="canonical"))
    (tmp_path / "wrong.yaml").write_text(SUITE.format(name="wrong", data=data, field="prompt"))
    (tmp_path / "standard.yaml").write_text(STANDARD)
    out = tmp_path / "out"
    args = [
        "assess",
        "--no-progress",
        "--model",
        "mock:echo",
        "--standard",
        str(tmp_path / "standard.yaml"),
        "--limit",
        "12",
        "--output",
        str(out),
    ]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output  # wrong-pass1 fails
    path = next(out.rglob("assessment.json"))
    doc = json.loads(path.read_text())
    by_id = {r["id"]: r for r in doc["requirements"]}
    assert by_id["right-pass1"]["verdict"] == "pass"
    assert by_id["right-pass1"]["estimate"] == 1.0
    assert by_id["right-pass1"]["n_used"] == 12  # problems, not the 36 samples
    assert by_id["right-pass3"]["verdict"] == "info"
    assert by_id["wrong-pass1"]["verdict"] == "fail"
    assert by_id["wrong-pass1"]["estimate"] == 0.0
    outcomes = by_id["wrong-pass1"]["decision"]["parameters"]["outcomes"]
    assert sum(outcomes.values()) == 36
    assert "passed" not in outcomes
    assert set(outcomes) <= {"failed_assertion", "runtime_error"}
    assert by_id["right-pass1"]["decision"]["parameters"]["outcomes"] == {"passed": 36}
    assert by_id["insecure"]["verdict"] == "pass"
    assert by_id["isolation"]["verdict"] == "pass"
    assert by_id["isolation"]["check"]["policy_digest"].startswith("sha256:")
    # three samples per problem, each its own work unit with its own seed
    result_json = next(p for p in out.rglob("result.json") if "right" in str(p))
    units = json.loads(result_json.read_text())["units"]
    assert len(units) == 36
    assert len({u["key"] for u in units}) == 36
    seeds = {(u["item_id"], u["request"].get("seed")) for u in units}
    assert len(seeds) == 36
    assert sandbox_processes(65534) == []
