"""The second pickle engine: fickling's ``MLAllowlist`` analysis, adapted at the boundary.

fickling decompiles a pickle symbolically (it never unpickles) and its
``MLAllowlist`` flags every import outside an allowlist. We hand it the union of
its own list and ours, so the two engines judge by the same policy but parse
and interpret the bytes independently. Anything fickling raises becomes an
"engine failed" outcome, never a crash of the scan.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from typing import Any, Literal

ENGINE = "fickling"
_FROM_IMPORT = re.compile(r"from\s+(\S+)\s+import\s+(.+)")


@dataclass
class FicklingOutcome:
    status: Literal["clean", "flagged", "failed", "unavailable"]
    imports: list[tuple[str, str]] = field(default_factory=list)
    """Non-allowlisted (module, name) pairs fickling reported."""
    problems: list[str] = field(default_factory=list)
    """Malformed-stream reports and other non-import results."""
    streams: int = 0
    detail: str = ""


def fickling_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("fickling")
    except Exception:
        return None


def run_fickling(data: bytes, allow: dict[str, frozenset[str]]) -> FicklingOutcome:
    """Analyse every pickle stream in ``data`` with ``MLAllowlist`` extended by ``allow``."""
    try:
        from fickling.analysis import Analyzer, Severity
        from fickling.fickle import StackedPickle
        from fickling.ml import ML_ALLOWLIST, MLAllowlist
    except ImportError as exc:
        return FicklingOutcome("unavailable", detail=f"fickling is not installed ({exc})")

    policy: dict[str, dict[str, str]] = {m: dict(names) for m, names in ML_ALLOWLIST.items()}
    for module, names in allow.items():
        policy.setdefault(module, {}).update({n: "llmcert allowlist" for n in names})
    analysis: Any = MLAllowlist()
    analysis.allowlist = policy  # an instance attribute: the module-level list stays untouched

    outcome = FicklingOutcome("clean")
    sink = io.StringIO()  # fickling prints warnings about malformed input to stderr
    try:
        with contextlib.redirect_stderr(sink):
            stacked = StackedPickle.load(io.BytesIO(data), fail_on_decode_error=False)
            outcome.streams = len(stacked)
            for pickled in stacked:
                if pickled.has_invalid_opcode:
                    outcome.problems.append("stream contains an invalid opcode")
                for result in Analyzer([analysis]).analyze(pickled).results:
                    if result.severity <= Severity.LIKELY_SAFE:
                        continue
                    if result.analysis_name == "MLAllowlist" and result.trigger:
                        outcome.imports.extend(_parse_trigger(result.trigger))
                    else:
                        outcome.problems.append(str(result))
    except Exception as exc:  # fickling's own bugs on hostile input are findings, not crashes
        return FicklingOutcome("failed", detail=f"{type(exc).__name__}: {exc}"[:200])
    if outcome.imports or outcome.problems:
        outcome.status = "flagged"
    return outcome


def _parse_trigger(trigger: str) -> list[tuple[str, str]]:
    match = _FROM_IMPORT.fullmatch(trigger.strip())
    if not match:
        return [(trigger.strip(), "")]
    module, names = match.groups()
    return [(module, n.split(" as ")[0].strip()) for n in names.split(",") if n.strip()]
