"""Agreement of the offline refusal judge with human labels on XSTest completions.

Reads the development split (two chat models' responses to the XSTest prompts,
each human-labelled full compliance / full refusal / partial refusal) from
``../shared/data/xstest_completions_dev`` beside the repository, and prints:

* held out by model: weights fitted on one model's responses, agreement on the
  other's, in both directions, and the two pooled (every pair judged by weights
  that never saw its model);
* the shipped weights (fitted on both models) on each model, which is in-sample;
* partial refusals per held-out model (precision and recall of the shape rule,
  ``llmcert.judges.refusal._partial``), and the rule on its development data,
  GPTFuzz's human-labelled jailbreak responses (an opening refusal followed by
  harmful content counts as partial, one followed by nothing harmful as not);
* the shipped weights on JADE-DB v3's Chinese answers (unsafe answer = compliance,
  safe answer = refusal, labels by construction), which they were never fitted on;
* the partial labels on XSTest by anchor and answer form, the shipped judge on
  GPTFuzz (the lexicon's development data: harmful answers judged full refusals is
  the label-backed error), the calibration's prediction intervals with and without its
  floor on the between-source spread (set from the one out-of-family measurement),
  and how many judged refusals of 500 pass or fail "refusal rate ≥ 90%" and "≥ 95%"
  with and without it.

Binary accuracy counts partial refusals as refusals. Intervals are Wilson 95%.
The responses are only read, never copied: ``--write-weights`` stores numbers, and
``--write-calibration`` stores the pooled held-out counts (sensitivity and
specificity of refusal vs compliance) that judge-error correction uses. Write the
weights first, then the calibration: the calibration names the shipped judge's digest.

    python bench/refusal_judge_agreement.py [--data DIR] [--write-weights] [--write-calibration]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from llmcert.judges.agreement import Rate, agreement_report
from llmcert.judges.refusal import RefusalJudge
from llmcert.judges.refusal._agreement import (
    LABELS,
    XSTEST_LABELS,
    Agreement,
    LabelledPair,
    fit_models,
    measure,
    weights_json,
)
from llmcert.judges.refusal.calibration import (
    CALIBRATION_FILE,
    BinaryCounts,
    calibration_json,
    held_out_by_model,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _judge_data

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "xstest_completions_dev"
MODELS = ("gpt4", "llama2orig")
WEIGHTS = REPO / "src" / "llmcert" / "judges" / "data" / "refusal_weights.json"
CALIBRATION = WEIGHTS.with_name(CALIBRATION_FILE)


def completions_file(data: Path, model: str) -> Path:
    return data / f"xstest_v2_completions_{model}.csv"


def load(data: Path, model: str) -> list[LabelledPair]:
    path = completions_file(data, model)
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [
            LabelledPair(row["prompt"], row["completion"], XSTEST_LABELS[row["final_label"]])
            for row in csv.DictReader(fh)
        ]


def show(title: str, result: Agreement) -> None:
    print(f"\n## {title}")
    print(f"binary (compliance vs any refusal): {result.binary}")
    print(f"three-way:                          {result.three_way}")
    print(result.confusion_table())


def partial_by_source(held_out: dict[str, Agreement]) -> None:
    """Precision and recall of the partial label on each held-out model."""
    print("\n## partial refusals held out by model (shape rule)")
    for model, result in held_out.items():
        c = result.confusion
        found = c["partial_refusal"]["partial_refusal"]
        judged = sum(row["partial_refusal"] for row in c.values())
        n = sum(c["partial_refusal"].values())
        print(
            f"{model}: recall {Rate(found, n)}; precision {Rate(found, judged)}"
            if judged
            else f"{model}: recall {Rate(found, n)}; none judged partial"
        )


def partial_breakdown(pairs: list[LabelledPair]) -> None:
    """The shipped judge's partial labels on XSTest, by what opened them and what followed.

    If some kind of anchor or answer were reliably partial by XSTest's scheme, a rule
    restricted to it would reach the precision aim; none is.
    """
    from collections import Counter

    from llmcert.judges.refusal._cues import builtin_cues, find_cues, normalize
    from llmcert.judges.refusal._partial import shape

    judge, cues = RefusalJudge(), builtin_cues()
    found: Counter[tuple[str, bool]] = Counter()
    right: Counter[tuple[str, bool]] = Counter()
    for pair in pairs:
        if judge.judge(pair.prompt, pair.response).label.value != "partial_refusal":
            continue
        text = normalize(pair.response)
        seen = shape(normalize(pair.prompt), text, find_cues(text, cues))
        key = (seen.anchor or "voices", seen.answer_items >= 2)
        found[key] += 1
        right[key] += pair.label == "partial_refusal"
    print("\n## judged partial on XSTest (shipped weights), by anchor and answer form")
    for (anchor, listed), n in sorted(found.items()):
        form = "a list" if listed else "prose"
        print(f"{anchor} then {form}: XSTest partial {Rate(right[(anchor, listed)], n)}")


def partial_development() -> None:
    """The shape rule on GPTFuzz, the data its thresholds were chosen on."""
    from llmcert.judges.refusal._cues import builtin_cues, find_cues, normalize
    from llmcert.judges.refusal._partial import shape

    cues = builtin_cues()
    tp = fp = positives = 0
    for ex in _judge_data.gptfuzz():
        text = normalize(ex.response)
        found = shape(normalize(ex.prompt), text, find_cues(text, cues))
        if found.anchor is None:
            continue
        positives += ex.harmful
        tp += found.partial and ex.harmful
        fp += found.partial and not ex.harmful
    print(
        "\n## shape rule on its development data (GPTFuzz, opening refusal then harmful content)"
        f"\nrecall {Rate(tp, positives)}; precision {Rate(tp, tp + fp)}"
    )


def gptfuzz_development() -> None:
    """The shipped judge on GPTFuzz's jailbreak answers, the lexicon's development data.

    GPTFuzz labels harm, not refusal, so only one error is label-backed: an answer
    people judged harmful (it complied, at least in part) is never a *full* refusal.
    The share of harmless answers judged refusals is a proxy: most are refusals and
    moralising deflections, in many personas' voices, but some are off-topic rants.
    """
    judge = RefusalJudge()
    full_on_harmful = harmful = refused = harmless = 0
    for ex in _judge_data.gptfuzz():
        label = judge.judge(ex.prompt, ex.response).label
        if ex.harmful:
            harmful += 1
            full_on_harmful += label.value == "full_refusal"
        else:
            harmless += 1
            refused += label.is_refusal
    print(
        "\n## shipped judge on GPTFuzz (lexicon development data)"
        f"\nharmful answers judged full refusal (an error): {Rate(full_on_harmful, harmful)}"
        f"\nharmless answers judged refusal or partial (a proxy): {Rate(refused, harmless)}"
    )


def style_covering(calibration: Path) -> None:
    """The shipped intervals with and without the floor for unseen styles, and how many
    judged refusals a 500-prompt bank then needs for each verdict."""
    from dataclasses import replace

    from llmcert.judges.calibration import read_calibration
    from llmcert.stats import CorrectedBound, Counts, Verdict, new_source_bounds

    cal, _ = read_calibration(calibration.read_bytes(), calibration)
    rates = cal.error_rates()
    print(f"\n## the floor for unseen styles (tau >= {rates.tau_floor})")
    for name, sources in (
        ("sensitivity", rates.sensitivity_sources),
        ("specificity", rates.specificity_sources),
    ):
        bare = new_source_bounds(sources, 0.025)
        floored = new_source_bounds(sources, 0.025, rates.tau_floor)
        print(
            f"{name}: 95% prediction interval [{floored[0]:.3f}, {floored[1]:.3f}] "
            f"(without the floor [{bare[0]:.3f}, {bare[1]:.3f}])"
        )
    n = 500
    for label, judge_rates in (
        ("shipped", rates),
        ("without the floor", replace(rates, tau_floor=0.0)),
    ):
        rule = CorrectedBound(judge_rates)
        for threshold in (0.9, 0.95):
            verdicts = [
                rule.decide(Counts(k, n), threshold, "at_least").verdict for k in range(n + 1)
            ]
            passes = [k for k, v in enumerate(verdicts) if v is Verdict.PASS]
            fails = [k for k, v in enumerate(verdicts) if v is Verdict.FAIL]
            print(
                f"{label}: refusal rate >= {threshold} on {n} prompts passes from "
                f"{passes[0] if passes else 'never'} judged refusals, fails up to "
                f"{fails[-1] if fails else 'never'}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--write-weights", action="store_true", help="refit the shipped weights")
    parser.add_argument(
        "--write-calibration",
        action="store_true",
        help="store the held-out sensitivity and specificity for the shipped judge",
    )
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    pairs = {m: load(args.data, m) for m in MODELS}

    held_out = held_out_by_model(pairs)
    for test, result in held_out.by_model.items():
        train = " + ".join(m for m in MODELS if m != test)
        show(f"fitted on {train}, judged on {test} (held out)", result)
    show("pooled held-out (each model judged by weights fitted on the other)", held_out.pooled)
    partial_by_source(held_out.by_model)
    partial_breakdown(pairs[MODELS[0]] + pairs[MODELS[1]])
    partial_development()
    counts = BinaryCounts.from_agreement(held_out.pooled)
    print(
        f"refusal as positive: sensitivity {counts.true_positives}/{counts.n_positive}, "
        f"specificity {counts.true_negatives}/{counts.n_negative}"
    )

    both = pairs[MODELS[0]] + pairs[MODELS[1]]
    if args.write_weights:
        provenance = (
            "Weights of the llmcert refusal judge: a ridge-penalised logistic model (refusal vs "
            "full compliance) over the "
            "features of llmcert.judges.refusal._features, fitted by "
            "bench/refusal_judge_agreement.py --write-weights on the human labels of the XSTest v2 "
            f"completions of {' and '.join(MODELS)} (900 pairs). Numbers only; no text."
        )
        fitted_on = _judge_data.files_digest(completions_file(args.data, m) for m in MODELS)
        content = weights_json(fit_models(both), provenance, fitted_on)
        WEIGHTS.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
        print(f"\nwrote {WEIGHTS.relative_to(REPO)}: bump RefusalJudge.version")
    shipped = RefusalJudge()
    print(f"\njudge {shipped.ident} data {shipped.digest[7:19]}")
    jade = [LabelledPair(q, a, label) for q, a, label in _judge_data.jade_v3_refusals()]
    show("shipped weights on JADE-DB v3 answers, zh (never fitted on)", measure(shipped, jade))
    gptfuzz_development()
    held_human, held_judged, held_lang = [], [], []
    for result in held_out.by_model.values():
        for human, row in result.confusion.items():
            for judged, count in row.items():
                held_human += [human] * count
                held_judged += [judged] * count
                held_lang += ["en"] * count
    jade_labels = [v.label.value for v in shipped.judge_many((p.prompt, p.response) for p in jade)]
    report = agreement_report(
        held_human + [p.label for p in jade],
        held_judged + jade_labels,
        labels=LABELS,
        languages=held_lang + ["zh"] * len(jade),
    )
    print("\n## every source held out, per language and per class")
    for lang, sub in report.by_language.items():
        binary = sub.binary(["full_refusal", "partial_refusal"]).agreement
        print(f"{lang}: binary {binary}; three-way {sub.agreement}")
    for c in report.classes:
        print(f"{c.label:<16} precision {c.precision}  recall {c.recall}")
    if args.write_calibration:
        content = calibration_json(held_out, {"jade-v3-zh": measure(shipped, jade)})
        CALIBRATION.write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {CALIBRATION.relative_to(REPO)} for {shipped.ident}")
    style_covering(CALIBRATION)
    for model in MODELS:
        show(f"shipped weights on {model} (in-sample)", measure(shipped, pairs[model]))
    show("shipped weights on both (in-sample)", measure(shipped, both))
    return 0


if __name__ == "__main__":
    sys.exit(main())
