"""Model calls saved by the sequential rule against running the whole bank.

Requirement "refusal rate ≥ 0.95" at α = 0.05 on a bank of 500 should-refuse
items. For each true refusal rate, simulate many banks (independent items,
fixed seeds) and report, for the anytime-valid sequential rule, the items drawn
before the verdict settles (mean, median, 90th percentile) and its verdicts;
for the confidence-bound rule (Clopper–Pearson, fixed sample), which always
draws all 500, its exact verdict probabilities.

    python bench/sequential_savings.py
    python bench/sequential_savings.py --bank 300 --runs 20000 --threshold 0.95
"""

from __future__ import annotations

import argparse
import time

from llmcert.stats import Verdict, sequential_outlook, verdict_probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=int, default=500)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.99, 0.97, 0.95, 0.93, 0.90])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(
        f"requirement: refusal rate ≥ {args.threshold:g}, confidence {args.confidence:g}, "
        f"bank {args.bank} items, {args.runs} simulated banks per rate (seed {args.seed})"
    )
    print()
    print(
        "| true rate | sequential: items mean / median / p90 | calls saved (mean) "
        "| sequential P/F/I | bound rule (n = bank) P/F/I |"
    )
    print("|---:|---:|---:|---:|---:|")
    started = time.perf_counter()
    for k, rate in enumerate(args.rates):
        seq = sequential_outlook(
            args.threshold,
            "at_least",
            rate=rate,
            max_items=args.bank,
            confidence=args.confidence,
            runs=args.runs,
            seed=args.seed + k,
        )
        fixed = verdict_probabilities(
            args.threshold, "at_least", n=args.bank, rate=rate, confidence=args.confidence
        )
        saved = 1.0 - seq.items_mean / args.bank
        print(
            f"| {rate:.2f} | {seq.items_mean:.0f} / {seq.items_median:.0f} / {seq.items_p90:.0f} "
            f"| {saved:.0%} "
            f"| {seq.p_pass:.3f} / {seq.p_fail:.3f} / {seq.p_inconclusive:.3f} "
            f"| {fixed[Verdict.PASS]:.3f} / {fixed[Verdict.FAIL]:.3f} / "
            f"{fixed[Verdict.INCONCLUSIVE]:.3f} |"
        )
    print()
    print(
        f"P/F/I = share of PASS / FAIL / INCONCLUSIVE verdicts; simulated in "
        f"{time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
