"""Held-out-by-source agreement and throughput of the offline harm judge (llmcert-harm).

Reads the judge-development sets in ``../shared/data`` (see ``bench/_judge_data.py``
for sources and licences) and, for each training source, fits the judge on every
*other* source and judges this one: no figure printed below was fitted on the
data it is measured on. JailbreakBench artifacts, whose labels come from a judge
model rather than people, are only ever a test set (judged by the fit on all
sources). Agreement is binary (harmful compliance vs anything else) because the
human labels are; intervals are Wilson 95%.

    python bench/harm_judge_agreement.py [--write-weights] [--write-calibration] [--json OUT]

``--write-weights`` stores the fit on every source (numbers only, ``.npz``) with a
description naming each training set, its licence and the data digest;
``--write-calibration`` stores the held-out counts the assessments correct with.
``--describe-only`` and ``--calibration-from JSON`` rewrite the description and the
calibration without refitting (the latter from the per-source counts of ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _judge_data as data

from llmcert.judges.agreement import AgreementReport, BinaryStats, Rate, agreement_report
from llmcert.judges.harm import HarmJudge
from llmcert.judges.harm._judge import META_FILE, WEIGHTS_FILE
from llmcert.judges.harm._model import FitSettings, HarmModel
from llmcert.judges.harm._training import Corpus, HeldOutSource, held_out_by_source
from llmcert.judges.harm.calibration import CALIBRATION_FILE, calibration_json

DATA_DIR = data.REPO / "src" / "llmcert" / "judges" / "data"
LABELS = ("harmful", "not_harmful")


def binary_report(results: list[HeldOutSource]) -> AgreementReport:
    human, judged, langs = [], [], []
    for r in results:
        for e, v in zip(r.examples, r.verdicts, strict=True):
            human.append("harmful" if e.harmful else "not_harmful")
            judged.append("harmful" if v.label.is_harmful else "not_harmful")
            langs.append(e.language)
    return agreement_report(human, judged, labels=LABELS, languages=langs)


def show(title: str, report: AgreementReport) -> None:
    b = report.binary(["harmful"])
    kappa = "n/a" if report.kappa is None else f"{report.kappa:.3f}"
    print(f"{title:<34} agreement {report.agreement}  kappa {kappa}")
    print(f"{'':<34} sensitivity {b.sensitivity}  specificity {b.specificity}")


def _binary_from_json(report: dict[str, Any]) -> BinaryStats:
    confusion = report["confusion"]
    tp, fn = confusion["harmful"]["harmful"], confusion["harmful"]["not_harmful"]
    fp, tn = confusion["not_harmful"]["harmful"], confusion["not_harmful"]["not_harmful"]
    return BinaryStats(Rate(tp, tp + fn), Rate(tn, tn + fp))


def write_description(
    examples: list[Any], prompts: list[Any], risks: list[Any], risk_ids: Any, settings: FitSettings
) -> None:
    """``harm_judge.json``: each training set with its licence and example counts."""
    counts: dict[str, dict[str, int]] = {}
    for kind, rows in (("responses", examples), ("prompts", prompts), ("risk_prompts", risks)):
        for row in rows:
            entry = counts.setdefault(data.training_set(row.source), {})
            entry[kind] = entry.get(kind, 0) + 1
    meta = {
        "about": (
            "Weights of the llmcert harm judge: hashed n-gram logistic heads fitted by "
            "bench/harm_judge_agreement.py --write-weights. Numbers only; no text."
        ),
        "training_sets": {
            key: {"name": name, "licence": licence, "examples": counts.get(key, {})}
            for key, (name, licence) in data.LICENCES.items()
            if key in counts
        },
        "data_digest": data.data_digest(),
        "fit": settings.to_json(),
        "risks": list(risk_ids),
    }
    (DATA_DIR / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def write_calibration(counts: dict[str, BinaryStats]) -> None:
    content = calibration_json(HarmJudge(), counts)
    (DATA_DIR / CALIBRATION_FILE).write_text(json.dumps(content, indent=1) + "\n", "utf-8")
    print(f"wrote {CALIBRATION_FILE}: {content['basis']}")


def throughput(pairs: list[tuple[str, str]]) -> str:
    """Wall-clock rate in one process, and the CPU time per response (which a busy,
    shared machine inflates far less than wall time)."""
    judge = HarmJudge()
    judge.judge(*pairs[0])  # load weights before timing
    wall, cpu = time.perf_counter(), time.process_time()
    for prompt, response in pairs:
        judge.judge(prompt, response)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return (
        f"{len(pairs) / wall:.0f} responses/s wall in one process; "
        f"{1000 * cpu / len(pairs):.2f} ms CPU per response "
        f"(= {len(pairs) / cpu:.0f}/s per core) on {len(pairs)} pairs; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-weights", action="store_true")
    parser.add_argument("--write-calibration", action="store_true")
    parser.add_argument("--json", type=Path, help="write every figure as JSON here")
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument(
        "--describe-only",
        action="store_true",
        help="rewrite harm_judge.json for the shipped weights, no refit",
    )
    parser.add_argument(
        "--calibration-from",
        type=Path,
        help="write the calibration from the per-source counts of an earlier --json, no refit",
    )
    args = parser.parse_args()
    if not data.DATA.is_dir():
        print(f"no data at {data.DATA}", file=sys.stderr)
        return 2
    if args.calibration_from is not None:
        saved = json.loads(args.calibration_from.read_text(encoding="utf-8"))
        counts = {
            s: _binary_from_json(saved[s]) for s in sorted(data.RESPONSE_SOURCES) if s in saved
        }
        write_calibration(counts)
        return 0
    if args.describe_only:
        shipped = HarmModel.from_npz((DATA_DIR / WEIGHTS_FILE).read_bytes())
        examples, prompts, risks = (
            data.harm_training(),
            data.prompt_examples(),
            data.risk_examples(),
        )
        data.jbb(), data.xstest_answers()  # test files are in the data digest, as in a full run
        write_description(examples, prompts, risks, shipped.risk_ids, FitSettings())
        return 0
    if args.throughput_only:
        pairs = [(e.prompt, e.response) for e in data.jbb() + data.jade_v3()][:2000]
        print(f"throughput (jbb + jade pairs): {throughput(pairs)}")
        return 0
    examples = data.harm_training()
    prompts = data.prompt_examples()
    risks = data.risk_examples()
    test_only = data.jbb() + data.xstest_answers()
    settings = FitSettings()
    started = time.perf_counter()
    corpus = Corpus(examples, prompts, risks)
    results, full = held_out_by_source(corpus, settings, related=data.RELATED, test_only=test_only)
    print(f"# held out by source ({time.perf_counter() - started:.0f} s to fit and judge)\n")
    by_source = {r.source: binary_report([r]) for r in results}
    for source, report in by_source.items():
        show(source + (" (test only)" if source in data.TEST_ONLY else ""), report)
    print()
    pooled = binary_report([r for r in results if r.source not in data.TEST_ONLY])
    show("pooled over training sources", pooled)
    for lang, report in pooled.by_language.items():
        show(f"  {lang}", report)
    responses = binary_report([r for r in results if r.source in data.RESPONSE_SOURCES])
    show("pooled over response sources", responses)
    for lang, report in responses.by_language.items():
        show(f"  {lang}", report)
    if args.write_weights:
        write_description(examples, prompts, risks, full.risk_ids, settings)
        (DATA_DIR / WEIGHTS_FILE).write_bytes(full.to_npz())
        print(f"\nwrote {WEIGHTS_FILE} and {META_FILE}: bump HarmJudge.version")
    if args.write_calibration:
        # The judge's task is a (prompt, response) pair: it is calibrated on the
        # sources of responses to prompts, not on the text-only content sets.
        counts = {
            s: r.binary(["harmful"]) for s, r in by_source.items() if s in data.RESPONSE_SOURCES
        }
        write_calibration(counts)
    pairs = [(e.prompt, e.response) for e in test_only + examples][:2000]
    if (DATA_DIR / WEIGHTS_FILE).exists():
        print(f"\nthroughput (shipped judge): {throughput(pairs)}")
    if args.json:
        out = {s: r.to_dict() for s, r in by_source.items()}
        out["pooled"] = pooled.to_dict()
        out["pooled_responses"] = responses.to_dict()
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
