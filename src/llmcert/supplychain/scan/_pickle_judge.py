"""Judge pickle streams by an allowlist of imports, with two independent engines.

The opcode reader here and fickling both read the same bytes; a stream is
blocking when either engine reports an import outside the allowlist. Each
engine's per-stream outcome is kept so a reviewer can see where they differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import IO

from pydantic import BaseModel

from llmcert.supplychain.scan._fickling import ENGINE as FICKLING
from llmcert.supplychain.scan._fickling import run_fickling
from llmcert.supplychain.scan._findings import FindingSink, Severity, load_data
from llmcert.supplychain.scan._pickle import PickleAnalysis, read_pickles

READER = "opcode-reader"
#: fickling keeps every opcode as an object (about 150 bytes and 6 µs each): its budget.
MAX_FICKLING_BYTES = 16 << 20
MAX_FICKLING_OPCODES = 1_000_000

_ISSUE_RULES = {
    "malformed": "LLMC-PKL-002",
    "truncated": "LLMC-PKL-002",
    "trailing": "LLMC-PKL-003",
    "unresolved": "LLMC-PKL-004",
    "discarded_call": "LLMC-PKL-005",
    "limit": "LLMC-PKL-007",
}


@dataclass(frozen=True)
class Allowlist:
    allow: dict[str, frozenset[str]]
    renames: dict[str, str]
    danger_modules: frozenset[str]
    danger_builtins: frozenset[str]

    def engine_allow(self) -> dict[str, frozenset[str]]:
        """The allowlist under every module name a pickle may use (``__builtin__`` too).

        Python 3 writes ``__builtin__.set`` at protocol 2; an engine that does not
        rename modules itself gets the same names under the old spelling.
        """
        out = dict(self.allow)
        for old, new in self.renames.items():
            if new in self.allow:
                out[old] = out.get(old, frozenset()) | self.allow[new]
        return out

    def canonical(self, module: str) -> str:
        return self.renames.get(module, module)

    def allows(self, module: str, name: str) -> bool:
        return name in self.allow.get(self.canonical(module), frozenset())

    def dangerous(self, module: str, name: str) -> bool:
        module = self.canonical(module)
        if module == "builtins":
            return name in self.danger_builtins or name.split(".")[0] in self.danger_builtins
        root = module.split(".")[0]
        return module in self.danger_modules or root in self.danger_modules


@cache
def allowlist() -> Allowlist:
    raw = load_data("pickle_allowlist.json")
    danger = raw["code_execution_primitives"]
    return Allowlist(
        allow={m: frozenset(names) for m, names in raw["allow"].items()},
        renames=dict(raw["python2_renames"]),
        danger_modules=frozenset(danger["modules"]),
        danger_builtins=frozenset(danger["builtins"]),
    )


class PickleVerdict(BaseModel):
    """What both engines said about the pickle streams at one place in one file."""

    member: str | None = None
    offset: int = 0
    end: int = 0
    """Offset just past the last complete stream."""
    streams: int = 0
    imports: list[str] = []
    """Every import the opcode reader saw, as ``module.name@offset``."""
    engines: dict[str, str] = {}
    """Engine name -> clean | flagged | failed | unavailable | skipped."""


def judge_pickle(
    fh: IO[bytes],
    sink: FindingSink,
    *,
    start: int,
    end: int,
    member: str | None = None,
    expected_streams: int | None = None,
) -> PickleVerdict:
    """Run both engines over ``fh[start:end]`` and add their findings to ``sink``."""
    policy = allowlist()
    analysis = read_pickles(fh, start=start, end=end, max_streams=expected_streams)
    reader_flagged = _reader_findings(analysis, policy, sink, member)
    verdict = PickleVerdict(
        member=member,
        offset=start,
        end=analysis.end,
        streams=analysis.streams,
        imports=[f"{i.dotted}@{i.offset}" for i in analysis.imports[:500]],
        engines={READER: "flagged" if reader_flagged else "clean"},
    )

    broken = any(i.kind in ("malformed", "truncated", "limit") for i in analysis.issues)
    span_end = end if broken or analysis.streams == 0 else analysis.end
    if span_end - start > MAX_FICKLING_BYTES or analysis.opcodes > MAX_FICKLING_OPCODES:
        verdict.engines[FICKLING] = "skipped"
        sink.add(
            "LLMC-PKL-006",
            f"not fully scanned: {span_end - start} bytes, {analysis.opcodes} opcodes exceed "
            f"{FICKLING}'s budget ({MAX_FICKLING_BYTES} bytes, {MAX_FICKLING_OPCODES} opcodes)",
            engine=FICKLING,
            member=member,
            offset=start,
        )
        return verdict
    fh.seek(start)
    outcome = run_fickling(fh.read(span_end - start), policy.engine_allow())
    verdict.engines[FICKLING] = outcome.status
    if outcome.status in ("failed", "unavailable"):
        sink.add(
            "LLMC-PKL-006",
            f"{FICKLING} {outcome.status}: {outcome.detail}",
            engine=FICKLING,
            member=member,
            offset=start,
        )
    seen: set[tuple[str, str]] = set()
    for module, name in outcome.imports:
        if (module, name) in seen:
            continue
        seen.add((module, name))
        sink.add(
            "LLMC-PKL-001",
            f"MLAllowlist: import of {module}.{name} is not allowlisted",
            engine=FICKLING,
            severity=Severity.CRITICAL if policy.dangerous(module, name) else None,
            member=member,
        )
    for problem in dict.fromkeys(outcome.problems):
        sink.add("LLMC-PKL-002", problem, engine=FICKLING, member=member, offset=start)
    return verdict


def _reader_findings(
    analysis: PickleAnalysis, policy: Allowlist, sink: FindingSink, member: str | None
) -> bool:
    flagged = False
    counts: dict[tuple[str, str], int] = {}
    for imp in analysis.imports:
        key = (imp.module, imp.name)
        counts[key] = counts.get(key, 0) + 1
        if policy.allows(*key) or counts[key] > 1:
            continue
        flagged = True
        sink.add(
            "LLMC-PKL-001",
            f"{imp.opcode} {imp.dotted} at offset {imp.offset} (stream {imp.stream})",
            engine=READER,
            severity=Severity.CRITICAL if policy.dangerous(*key) else None,
            member=member,
            offset=imp.offset,
        )
    for issue in analysis.issues:
        flagged = True
        sink.add(
            _ISSUE_RULES[issue.kind],
            issue.detail,
            engine=READER,
            member=member,
            offset=issue.offset,
        )
    return flagged
