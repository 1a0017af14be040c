"""Two evaluation results of one suite, side by side: conditions, figures, answers unit by unit.

The question is usually "did this change move the numbers?" — another model
version, another serving path, another build of the engine. An answer holds only
if nothing but the variable under study differs, so every recorded condition
that differs is listed. The hardware class gets its own verdict: in-process
answers differ between CPU classes for the same model file, so results from two
classes are compared with a warning, or not at all when ``same_hardware`` is asked.

Units are matched by item and repeat (not by unit key, which includes the model
identity). Paired outcomes are tested with the exact McNemar test on the
discordant pairs, which is what a paired comparison of two accuracies needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llmcert.errors import LlmcertError, SpecError
from llmcert.report import EvalResult, hardware_difference, load_result
from llmcert.services.assess._run import outcome_of

__all__ = [
    "ConditionsDiffer",
    "MetricPair",
    "ResultComparison",
    "UnitAgreement",
    "compare_results",
    "describe",
    "mcnemar_exact",
]


class ConditionsDiffer(LlmcertError):
    """Two results were measured under conditions the caller refused to compare across."""


@dataclass(frozen=True)
class MetricPair:
    name: str
    group: dict[str, str]
    a: float | None
    b: float | None

    @property
    def label(self) -> str:
        return self.name + "".join(f" · {k}={v}" for k, v in sorted(self.group.items()))


@dataclass(frozen=True)
class UnitAgreement:
    """How the two results' answers to the same units agree."""

    matched: int
    identical_outputs: int
    same_outcome: int
    only_a_right: int
    only_b_right: int
    #: Exact McNemar p-value (two-sided) on the discordant pairs; None without any.
    p_value: float | None
    differing_items: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResultComparison:
    a: EvalResult
    b: EvalResult
    #: Conditions recorded differently, in words (the hardware class apart).
    differences: list[str]
    #: Why the hardware classes differ; None when they are the same (or both remote).
    hardware: str | None
    metrics: list[MetricPair]
    units: UnitAgreement
    warnings: list[str] = field(default_factory=list)


def compare_results(a_path: Path, b_path: Path, *, same_hardware: bool = False) -> ResultComparison:
    """Compare two results of the same suite; ConditionsDiffer when they cannot be compared."""
    a, b = load_result(a_path), load_result(b_path)
    if a.suite.get("digest") != b.suite.get("digest"):
        raise SpecError(
            f"the results are of different suites ({a.suite.get('name')} "
            f"{_short(a.suite.get('digest'))} vs {b.suite.get('name')} "
            f"{_short(b.suite.get('digest'))}); only results of one suite compare",
            path=b_path,
            field="suite.digest",
        )
    hardware = hardware_difference(a.environment.hardware_class, b.environment.hardware_class)
    if hardware is not None and same_hardware:
        raise ConditionsDiffer(f"not compared (--same-hardware): {hardware}")
    warnings = []
    if hardware is not None:
        warnings.append(
            f"{hardware}: a difference between these results may be the hardware's, "
            "not the variable under study"
        )
    return ResultComparison(
        a=a,
        b=b,
        differences=_condition_differences(a, b),
        hardware=hardware,
        metrics=_metric_pairs(a, b),
        units=_agreement(a, b),
        warnings=warnings,
    )


def _short(digest: object) -> str:
    return str(digest or "")[7:19]


def _condition_differences(a: EvalResult, b: EvalResult) -> list[str]:
    out = []
    if a.model.get("digest") != b.model.get("digest"):
        out.append(f"model: {a.model.get('ref')} [{_short(a.model.get('digest'))}] vs "
                   f"{b.model.get('ref')} [{_short(b.model.get('digest'))}]")  # fmt: skip
    if a.model.get("engine") != b.model.get("engine"):
        out.append(f"engine: {a.model.get('engine')} vs {b.model.get('engine')}")
    for name in ("seed", "repeats", "limit"):
        x, y = getattr(a.run, name), getattr(b.run, name)
        if x != y:
            out.append(f"{name}: {x} vs {y}")
    ea, eb = a.environment, b.environment
    for name in ("llmcert", "python"):
        if getattr(ea, name) != getattr(eb, name):
            out.append(f"{name}: {getattr(ea, name)} vs {getattr(eb, name)}")
    for pkg in sorted(set(ea.packages) | set(eb.packages)):
        if ea.packages.get(pkg) != eb.packages.get(pkg):
            out.append(
                f"{pkg}: {ea.packages.get(pkg, 'absent')} vs {eb.packages.get(pkg, 'absent')}"
            )
    ha, hb = ea.hardware_class, eb.hardware_class
    if ha is not None and hb is not None and ha.key == hb.key and ha.build != hb.build:
        # Same kernels by their features, but another build of them.
        sa, sb = ha.build.get("kernels_sha256"), hb.build.get("kernels_sha256")
        if sa != sb:
            out.append(f"engine build: kernels {_short(sa)} vs {_short(sb)} (same features)")
    return out


def _metric_pairs(a: EvalResult, b: EvalResult) -> list[MetricPair]:
    def key(m: object) -> tuple[str, tuple[tuple[str, str], ...]]:
        return (m.name, tuple(sorted(m.group.items())))  # type: ignore[attr-defined]

    theirs = {key(m): m for m in b.metrics}
    pairs = []
    for m in a.metrics:
        other = theirs.pop(key(m), None)
        pairs.append(MetricPair(m.name, m.group, m.estimate, other.estimate if other else None))
    pairs.extend(MetricPair(m.name, m.group, None, m.estimate) for m in theirs.values())
    return pairs


def _agreement(a: EvalResult, b: EvalResult) -> UnitAgreement:
    theirs = {(u.item_hash, u.repeat): u for u in b.units}
    matched = identical = same = only_a = only_b = 0
    differing: list[str] = []
    for u in a.units:
        v = theirs.get((u.item_hash, u.repeat))
        if v is None:
            continue
        matched += 1
        if u.status == v.status == "ok" and u.response == v.response:
            identical += 1
        elif u.item_id not in differing:
            differing.append(u.item_id)
        x, y = outcome_of(u), outcome_of(v)
        if x == y:
            same += 1
        elif x is True and y is not True:
            only_a += 1
        elif y is True and x is not True:
            only_b += 1
    return UnitAgreement(
        matched=matched,
        identical_outputs=identical,
        same_outcome=same,
        only_a_right=only_a,
        only_b_right=only_b,
        p_value=mcnemar_exact(only_a, only_b),
        differing_items=tuple(differing),
    )


def mcnemar_exact(only_a: int, only_b: int) -> float | None:
    """Two-sided exact McNemar p-value: the discordant pairs as Binomial(n, 1/2)."""
    n = only_a + only_b
    if n == 0:
        return None
    from scipy.stats import binomtest

    return float(binomtest(only_a, n, 0.5).pvalue)


def describe(comparison: ResultComparison, labels: Sequence[str] = ("A", "B")) -> list[str]:
    """The comparison as plain lines (the CLI prints them; a log can keep them)."""
    a, b = labels
    u = comparison.units
    lines = [f"{a}: {comparison.a.model.get('ref')} · run {comparison.a.run.run_id[:8]}",
             f"{b}: {comparison.b.model.get('ref')} · run {comparison.b.run.run_id[:8]}"]  # fmt: skip
    for m in comparison.metrics:
        lines.append(f"{m.label}: {_pct(m.a)} vs {_pct(m.b)}")
    p = "—" if u.p_value is None else f"{u.p_value:.3g}"
    lines.append(
        f"units matched {u.matched}: identical outputs {u.identical_outputs}, same outcome "
        f"{u.same_outcome}; right only in {a} {u.only_a_right}, only in {b} {u.only_b_right} "
        f"(exact McNemar p = {p})"
    )
    if u.differing_items:
        shown = ", ".join(u.differing_items[:10])
        more = f" and {len(u.differing_items) - 10} more" if len(u.differing_items) > 10 else ""
        lines.append(f"outputs differ on: {shown}{more}")
    hc = comparison.a.environment.hardware_class, comparison.b.environment.hardware_class
    for label, h in zip(labels, hc, strict=True):
        lines.append(
            f"hardware class {label}: " + (f"{h.label} [{h.short_key}]" if h else "none (remote)")
        )
    if comparison.differences:
        lines.append("other conditions that differ: " + "; ".join(comparison.differences))
    else:
        lines.append("other conditions that differ: none recorded")
    return lines


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"
