"""Serving-performance requirements through the one assess path: run once per load
profile, decided in ``stats``, recorded with load, self-test and meter in the assessment."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmcert.report import assessment_digest, load_assessment
from llmcert.services.assess import AssessOutcome, AssessRequest, assess
from llmcert.services.certify import CertifyRequest, Decision, certify
from llmcert.testing import ServerProcess, fake_server_process
from tests.conftest import make_keypair

MINI = Path(__file__).resolve().parents[2] / "perf" / "data" / "mini-inference-system.yaml"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with fake_server_process(
        latency=0.05, extra_args=("--stream", "--token-interval", "0.01")
    ) as srv:
        yield srv


def _by_id(outcome: AssessOutcome) -> dict[str, Any]:
    return {r.id: r for r in outcome.assessment.requirements}


def _meter_script(tmp_path: Path, step: float) -> str:
    """A command meter whose cumulative joules grow by ``step`` at each read."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    counter = tmp_path / "joules"
    counter.write_text("0")
    script = tmp_path / "meter.py"
    script.write_text(
        "import pathlib,sys\np=pathlib.Path(sys.argv[1])\nv=float(p.read_text())\n"
        f"print(v)\np.write_text(str(v+{step}))\n"
    )
    return f"command:{sys.executable} {script} {counter}"


async def test_each_perf_requirement_is_decided_from_one_shared_run(
    server: ServerProcess, tmp_path: Path
) -> None:
    outcome = await assess(
        AssessRequest(model=server.model_ref, standard=str(MINI), output=tmp_path / "out")
    )
    r = _by_id(outcome)
    perf = r["ttft-p90-loose"].perf
    assert perf is not None
    # One experiment for the five requirements (one load profile).
    assert len(list((outcome.json_path.parent / "perf").iterdir())) == 1
    assert {x.perf["profile_digest"] for x in r.values()} == {perf["profile_digest"]}
    assert r["ttft-p90-loose"].verdict == "pass"
    assert r["ttft-p90-loose"].rule == "quantile_bound"
    assert r["ttft-p90-loose"].decision["parameters"]["quantile"] == 0.9
    assert r["tpot-p90"].verdict == "pass"
    assert r["goodput"].verdict == "pass"
    # Injected TTFT is 50 ms: a 20 ms limit fails, unless the client fell behind, when a
    # failure might be the client's and stays open.
    tight = r["ttft-p90-tight"]
    assert tight.verdict == ("fail" if perf["reliable"] else "inconclusive")
    # No meter on this machine: the energy requirement cannot pass.
    energy = r["energy"]
    assert energy.verdict == "inconclusive"
    assert energy.perf["meter"]["provenance"] == "unavailable"
    assert "only a measured figure" in energy.explanation
    assert outcome.assessment.verdict in ("fail", "inconclusive")

    # The record carries the load, the self-test and the meter; links resolve.
    assert perf["load"]["rate"] == 20
    assert perf["selftest"]["target_rate"] == 20
    assert perf["requests"] == 60
    base = outcome.json_path.parent
    data = json.loads((base / perf["result"]).read_text())
    assert len(data["traces"]) == 60
    assert all("token_times" in t and "scheduled" in t for t in data["traces"])
    html = outcome.html_path.read_text()
    assert "Serving performance" in html
    assert "Client self-test" in html
    assert 'href="perf/' in html
    # The digest (what a certificate signs) covers the perf record.
    written = load_assessment(outcome.json_path)
    assert assessment_digest(written) == assessment_digest(outcome.assessment)
    assert written.requirements[0].perf == perf


async def test_a_measured_energy_figure_decides_the_energy_requirement(
    server: ServerProcess, tmp_path: Path
) -> None:
    std = tmp_path / "energy.yaml"
    text = MINI.read_text()
    std.write_text(text)
    low = await assess(
        AssessRequest(
            model=server.model_ref,
            standard=str(std),
            output=tmp_path / "low",
            meter=_meter_script(tmp_path / "a", 100.0),  # 100 J over 960 tokens
        )
    )
    assert _by_id(low)["energy"].verdict == "pass"
    assert _by_id(low)["energy"].perf["meter"]["provenance"] == "measured"
    high = await assess(
        AssessRequest(
            model=server.model_ref,
            standard=str(std),
            output=tmp_path / "high",
            meter=_meter_script(tmp_path / "b", 5000.0),
        )
    )
    assert _by_id(high)["energy"].verdict == "fail"


async def test_an_estimated_energy_figure_never_passes(
    server: ServerProcess, tmp_path: Path
) -> None:
    outcome = await assess(
        AssessRequest(
            model=server.model_ref,
            standard=str(MINI),
            output=tmp_path / "out",
            meter=_meter_script(tmp_path, 1.0) + "@estimated",
        )
    )
    energy = _by_id(outcome)["energy"]
    assert energy.perf["meter"]["provenance"] == "estimated"
    assert energy.verdict == "inconclusive"


async def test_an_unreachable_endpoint_records_nothing_as_passed(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    std = tmp_path / "s.yaml"
    std.write_text(MINI.read_text().replace("requests: 60", "requests: 5"))
    from llmcert.models.mock import MockBackend

    # The mock answers identification; the perf load goes to the dead port.
    outcome = await assess(
        AssessRequest(
            model=f"openai://127.0.0.1:{port}/v1?model=m", standard=str(std), output=tmp_path
        ),
        backend=MockBackend("echo"),
    )
    assert all(r.verdict != "pass" for r in outcome.assessment.requirements)
    perf = outcome.assessment.requirements[0].perf
    assert perf is not None
    assert perf["failed"] == 5
    assert any(u.startswith("latency (no request completed") for u in perf["unmeasured"])


async def test_a_certificate_names_the_load_the_self_test_and_the_meter(
    server: ServerProcess, tmp_path: Path
) -> None:
    std = tmp_path / "pass.yaml"
    lines = MINI.read_text().split("  - id: ttft-p90-tight")[0]
    std.write_text(lines)  # only the loose latency requirement: a PASS
    key, _ = make_keypair(tmp_path / "keys")
    outcome = await certify(
        CertifyRequest(
            AssessRequest(model=server.model_ref, standard=str(std), output=tmp_path / "out"),
            issuer="Test Centre",
            key=key,
        )
    )
    if outcome.decision is not Decision.ISSUED:  # pragma: no cover - diagnostic
        pytest.fail(f"not issued: {outcome.reasons}")
    envelope = json.loads(outcome.certificate_path.read_text())  # type: ignore[union-attr]
    import base64

    statement = json.loads(base64.b64decode(envelope["payload"]))
    notes = statement["predicate"]["notes"]
    assert "serving performance: open loop, poisson arrivals at 20 req/s" in notes
    assert "client self-test" in notes
    assert "energy unavailable" in notes


async def test_an_interrupted_profile_run_passes_nothing_and_is_measured_again(
    server: ServerProcess, tmp_path: Path
) -> None:
    from llmcert.perf import JOURNAL_NAME, result_from_journal
    from llmcert.services.assess._perf import PerfRun, _fresh_journal, decide_perf_requirement
    from llmcert.standards._spec import load_standard_file

    outcome = await assess(
        AssessRequest(model=server.model_ref, standard=str(MINI), output=tmp_path / "out")
    )
    loose = _by_id(outcome)["ttft-p90-loose"]
    assert loose.verdict == "pass"
    base = outcome.json_path.parent
    profile_dir = (base / loose.perf["result"]).parent
    journal = profile_dir / JOURNAL_NAME
    lines = journal.read_text().splitlines()
    assert json.loads(lines[-1])["kind"] == "end"
    # The same run, as a kill during its load would have left it: the header, the
    # self-test and the first 40 of its 60 requests.
    traces = [ln for ln in lines if json.loads(ln)["kind"] == "trace"]
    kept = [ln for ln in lines if json.loads(ln)["kind"] in ("run", "selftest")] + traces[:40]
    partial = tmp_path / "partial" / JOURNAL_NAME
    partial.parent.mkdir()
    partial.write_text("\n".join(kept) + "\n")
    result = result_from_journal(partial)
    assert not result.complete
    assert result.metrics.n_requests == 40
    spec = load_standard_file(MINI)
    req = next(r for r in spec.requirements if r.id == "ttft-p90-loose")
    run = PerfRun(result, profile_dir / "perf.json", profile_dir / "perf.html")
    decided = decide_perf_requirement(req, run, base)
    assert decided.verdict == "inconclusive"
    assert "incomplete" in decided.explanation
    assert decided.perf is not None
    assert decided.perf["complete"] is False

    # A resumed assessment measures the profile again and keeps the earlier journal.
    fresh = _fresh_journal(profile_dir)
    assert fresh == journal
    assert not journal.exists()
    assert (profile_dir / "perf.journal.interrupted-1.jsonl").read_text().splitlines() == lines
