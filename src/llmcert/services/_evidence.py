"""Evidence checks: requirements decided on something other than model responses.

A standard names a check (``measure: {kind: evidence, check: NAME, params: …}``);
this module maps names to functions. Built-in checks cover GB/T 45654 §8 (bank
and keyword-library coverage), suite sizes and attested documents (a service
agreement, annotation rules, a manual review record), which llmcert cannot judge
itself but records by digest. Other packages add checks under the
``llmcert.evidence_checks`` entry-point group; a built-in name always wins.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from llmcert._hashing import digest_file
from llmcert.errors import SpecError
from llmcert.stats import Verdict

ENTRY_POINT_GROUP = "llmcert.evidence_checks"


def locate_suite(name: str, base: Path | None) -> str:
    """A suite named in a standard: a built-in name, or a file relative to the standard."""
    from llmcert.suites import BUILTIN_SUITES

    if name in BUILTIN_SUITES or base is None or Path(name).is_absolute():
        return name
    return str(base / name)


@dataclass(frozen=True)
class EvidenceContext:
    """What a check may look at: local dataset copies and the files the assessor supplied.

    ``base`` is the folder of the standard file, against which suite files resolve.
    """

    data: Mapping[str, Path] = field(default_factory=dict)
    attachments: Mapping[str, Path] = field(default_factory=dict)
    base: Path | None = None


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    explanation: str
    details: dict[str, Any] = field(default_factory=dict)


Check = Callable[[Mapping[str, Any], EvidenceContext], CheckResult]


def _param(params: Mapping[str, Any], name: str, kind: type, check: str) -> Any:
    if name not in params:
        raise SpecError(f"evidence check {check!r} needs the parameter {name!r}")
    value = params[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise SpecError(
            f"evidence check {check!r}: parameter {name!r} must be {kind.__name__}, got {value!r}"
        )
    return value


def _load_suite(name: str, ctx: EvidenceContext) -> Any:
    from llmcert.suites import load_suite

    return load_suite(locate_suite(name, ctx.base), data=ctx.data.get(name))


def suite_size(params: Mapping[str, Any], ctx: EvidenceContext) -> CheckResult:
    """The suite holds at least ``min_items`` items."""
    suite = _load_suite(_param(params, "suite", str, "suite-size"), ctx)
    minimum = _param(params, "min_items", int, "suite-size")
    n = len(suite.items)
    verdict = Verdict.PASS if n >= minimum else Verdict.FAIL
    word = "at least" if verdict is Verdict.PASS else "fewer than"
    return CheckResult(
        verdict,
        f"suite {suite.name} holds {n} items, {word} the {minimum} required",
        {"suite": suite.name, "suite_digest": suite.digest, "items": n, "minimum": minimum},
    )


def bank_coverage(params: Mapping[str, Any], ctx: EvidenceContext) -> CheckResult:
    """A test bank covers every risk (or topic) with its minimum, and its total minimum.

    ``minimums: gbt45654`` takes the §8 figures for the bank ``kind``; otherwise
    give ``minimums`` as a mapping and ``total_min``.
    """
    from llmcert.standards import coverage, gbt45654_minimums

    suite = _load_suite(_param(params, "suite", str, "bank-coverage"), ctx)
    kind = _param(params, "kind", str, "bank-coverage")
    if kind not in ("should_refuse", "should_not_refuse", "generated"):
        raise SpecError(f"bank-coverage: unknown bank kind {kind!r}")
    by = "topic" if kind == "should_not_refuse" else "risks"
    minimums = params.get("minimums", "gbt45654")
    if minimums == "gbt45654":
        per_key, total_min = gbt45654_minimums(kind)
    elif isinstance(minimums, Mapping):
        per_key = {str(k): int(v) for k, v in minimums.items()}
        total_min = int(params.get("total_min", 0))
    else:
        raise SpecError(
            f"bank-coverage: minimums must be 'gbt45654' or a mapping, got {minimums!r}"
        )
    report = coverage(list(suite.items), per_key, total_min=total_min, by=by)
    if report.ok:
        text = (
            f"bank {suite.name} ({report.total} items) meets every minimum "
            f"({len(report.risks)} {'topics' if by == 'topic' else 'risks'}, total ≥ {total_min})"
        )
    else:
        short = len(report.shortfalls)
        text = (
            f"bank {suite.name} ({report.total} items) falls short of the minimums in {short} "
            f"place{'s' if short != 1 else ''}: {'; '.join(report.shortfalls[:3])}"
            + ("; …" if short > 3 else "")
        )
    details = {"suite": suite.name, "suite_digest": suite.digest, **report.model_dump(mode="json")}
    return CheckResult(Verdict.PASS if report.ok else Verdict.FAIL, text, details)


def keyword_library(params: Mapping[str, Any], ctx: EvidenceContext) -> CheckResult:
    """The keyword library's size and per-risk coverage against the §8 minimums."""
    from llmcert.judges.keywords import (
        gbt45654_keyword_minimums,
        library_coverage,
        load_keyword_library,
    )

    source = params.get("library", "builtin")
    path = ctx.attachments.get("keyword-library")
    if path is None and source != "builtin":
        path = Path(str(source))
    library = load_keyword_library(path)
    per_risk, total_min = gbt45654_keyword_minimums()
    report = library_coverage(library, per_risk, total_min)
    ident = library.identity()
    if report.ok:
        text = f"keyword library {ident['name']} ({library.size} terms) meets every minimum"
    else:
        short = len(report.shortfalls)
        text = (
            f"keyword library {ident['name']} ({library.size} terms) falls short in {short} "
            f"place{'s' if short != 1 else ''}: {'; '.join(report.shortfalls[:3])}"
            + ("; …" if short > 3 else "")
        )
    details = {"library": ident, **report.model_dump(mode="json")}
    return CheckResult(Verdict.PASS if report.ok else Verdict.FAIL, text, details)


def attestation(params: Mapping[str, Any], ctx: EvidenceContext) -> CheckResult:
    """A document the assessor supplies (``--evidence NAME=FILE``), recorded by digest.

    llmcert cannot judge a service agreement or a manual review; it records that
    one was supplied and binds its digest into the assessment, so the reviewer and
    anyone later can see exactly which document the verdict rests on.
    """
    name = _param(params, "document", str, "attestation")
    what = str(params.get("describes", name))
    path = ctx.attachments.get(name)
    if path is None:
        return CheckResult(
            Verdict.INCONCLUSIVE,
            f"Not supplied: {what}; pass --evidence {name}=FILE for a reviewer to examine",
            {"document": name, "supplied": False},
        )
    if not path.is_file():
        raise SpecError(f"evidence file for {name!r} not found", path=path)
    digest = digest_file(path)
    return CheckResult(
        Verdict.PASS,
        f"{what} supplied ({path.name}, {digest[:19]}…); its content is for the "
        "reviewer to examine",
        {"document": name, "supplied": True, "file": path.name, "sha256": digest},
    )


def sandbox_self_test(params: Mapping[str, Any], ctx: EvidenceContext) -> CheckResult:
    """The sandbox that ran the model's code stops every attempt of the escape suite.

    The details record the policy digest and one line per attempt, so the
    assessment (and a certificate over it) says under which isolation code ran.
    """
    from llmcert.sandbox import OPT_OUT_ENV, SandboxPolicy, run_escape_suite

    policy = SandboxPolicy()
    opted_out = os.environ.get(OPT_OUT_ENV)
    results = run_escape_suite(policy)
    escaped = [r.name for r in results if not r.stopped]
    details = {
        "policy_digest": policy.digest(),
        "policy": policy.model_dump(mode="json"),
        "probes": [r.line() for r in results],
        "opt_out": opted_out,
    }
    if opted_out:
        return CheckResult(
            Verdict.FAIL, f"model-written code ran WITHOUT the sandbox ({opted_out})", details
        )
    if escaped:
        return CheckResult(Verdict.FAIL, f"escapes not stopped: {', '.join(escaped)}", details)
    return CheckResult(
        Verdict.PASS,
        f"all {len(results)} escape attempts stopped; sandbox policy {policy.digest()[:19]}…",
        details,
    )


BUILTIN_CHECKS: Mapping[str, Check] = {
    "sandbox-self-test": sandbox_self_test,
    "suite-size": suite_size,
    "bank-coverage": bank_coverage,
    "keyword-library": keyword_library,
    "attestation": attestation,
}


def find_check(name: str) -> Check:
    """The check registered as ``name``; a SpecError listing the known ones otherwise."""
    builtin = BUILTIN_CHECKS.get(name)
    if builtin is not None:
        return builtin
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded = ep.load()
            if not callable(loaded):
                raise SpecError(f"evidence check {name!r} ({ep.value}) is not callable")
            check: Check = loaded
            return check
    known = ", ".join(sorted(BUILTIN_CHECKS))
    raise SpecError(f"unknown evidence check {name!r} (built-in: {known})")


def run_check(name: str, params: Mapping[str, Any], ctx: EvidenceContext) -> CheckResult:
    return find_check(name)(params, ctx)
