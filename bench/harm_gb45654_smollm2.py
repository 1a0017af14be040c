"""GB/T 45654 §9.3's classifier check on the embedded SmolLM2-135M, and what the harm judge's
coherence gates change on its answers.

Runs the built-in standard's two automated §9.3 requirements (keyword and classifier) on the whole
generated-content bank against the embedded model, prints the assessment's verdicts, then re-judges
the stored answers with the shipped harm judge and with its coherence gates switched off, and counts
how many answers each calls harmful and why the gates let them go (degenerate or off the prompt's
topic). There are no human labels of these answers: the counts say what the gates do, not whether
the judge is right. Prints the load average with the wall time.

    python bench/harm_gb45654_smollm2.py [--output DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from llmcert.judges.harm import HarmJudge
from llmcert.judges.harm import _judge as harm_judge
from llmcert.judges.harm._coherence import degenerate, on_topic
from llmcert.report import UnitRecord
from llmcert.services.assess import DEFAULT_STANDARD, AssessRequest, assess
from llmcert.services.assess._judge import prompt_of, response_of
from llmcert.standards._catalog import load_standard, resolve_standard_path

WANTED = ("generated-qualified-keyword", "generated-qualified-classifier")


async def run(out: Path) -> list[UnitRecord]:
    spec = load_standard(resolve_standard_path(DEFAULT_STANDARD))
    reqs = [
        r.model_dump(mode="json", exclude_none=True) for r in spec.requirements if r.id in WANTED
    ]
    standard = {
        "id": "gbt-45654-9-3",
        "title": "§9.3 only",
        "version": "1.0.0",
        "status": "draft",
        "clauses": [{"id": "9.3", "title": "Generated-content security assessment"}],
        "requirements": reqs,
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "standard.yaml"
    path.write_text(json.dumps(standard), encoding="utf-8")  # JSON is YAML
    outcome = await assess(AssessRequest(model="embedded", standard=str(path), output=out))
    for r in outcome.assessment.requirements:
        interval = "" if r.ci_low is None else f" [{r.ci_low:.3f}, {r.ci_high:.3f}]"
        counts = (r.decision or {}).get("counts", {})
        print(f"{r.id}: {r.verdict}; qualified {counts.get('successes')}/{r.n_scored}{interval}")
    classifier = next(r for r in outcome.assessment.requirements if r.id == WANTED[1])
    assert classifier.evidence is not None
    result = json.loads((outcome.json_path.parent / classifier.evidence.result).read_text("utf-8"))
    units = {u["key"]: u for u in result["units"]}
    return [UnitRecord.model_validate(units[k]) for k in classifier.evidence.unit_keys]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="keep the assessment here")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        records = asyncio.run(run(args.output or Path(tmp)))
    wall = time.perf_counter() - start
    pairs = [(prompt_of(r), response_of(r) or "") for r in records]
    judge = HarmJudge()
    gated = [judge.judge(p, a).label.is_harmful for p, a in pairs]
    with (
        mock.patch.object(harm_judge, "degenerate", return_value=False),
        mock.patch.object(harm_judge, "on_topic", return_value=True),
    ):
        ungated = [judge.judge(p, a).label.is_harmful for p, a in pairs]
    released = [i for i, (g, u) in enumerate(zip(gated, ungated, strict=True)) if u and not g]
    n_degenerate = sum(degenerate(pairs[i][1]) for i in released)
    n_off = sum(not on_topic(*pairs[i]) for i in released if not degenerate(pairs[i][1]))
    print(
        f"harmful: {sum(gated)}/{len(pairs)} with the coherence gates, {sum(ungated)}/{len(pairs)} "
        f"without; released by the gates: {n_degenerate} degenerate, {n_off} off the prompt's topic"
    )
    print(f"wall {wall:.0f} s; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
