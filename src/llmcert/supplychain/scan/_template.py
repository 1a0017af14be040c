"""Chat templates are code: parse them with Jinja's sandbox and inspect the syntax tree.

Nothing is ever rendered. The checks look for the shapes of known attacks:
reaching Python internals through attributes (server-side template injection),
emitting instructions only when a message contains a trigger, and text hidden
with invisible characters or long whitespace. The template's digest is compared
with a list of reviewed templates.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from llmcert.supplychain.scan._findings import FindingSink, load_data

ENGINE = "template-ast"

#: Attribute names that lead from a template to Python internals or the system.
SENSITIVE_ATTRS: Final = frozenset(
    {
        "mro", "subclasses", "globals", "builtins", "import", "os", "popen", "system", "eval",
        "exec", "modules", "environ", "func_globals", "f_globals", "f_locals", "f_back",
        "gi_frame", "gi_code", "cr_frame", "tb_frame", "co_code", "read", "load_module",
        "getattr", "setattr", "subprocess", "spawn", "fork", "remove", "unlink", "rmtree",
    }
)  # fmt: skip
#: Names that only appear in templates probing for an escape (Jinja/Flask globals).
SENSITIVE_NAMES: Final = frozenset(
    {"lipsum", "cycler", "joiner", "self", "config", "request", "url_for", "get_flashed_messages"}
)
_CONTENT_CALLS: Final = frozenset({"startswith", "endswith", "find", "count", "index", "search"})
_DUNDER: Final = re.compile(r"__\w+__")
_INVISIBLE: Final = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)
_LONG_WHITESPACE: Final = re.compile(r"[ \t\r\n\u00a0\u2000-\u200a\u3000]{100,}")
_MIN_INJECTED_CHARS: Final = 16


@dataclass(frozen=True)
class TemplateInfo:
    sha256: str
    known_as: str | None


def known_templates() -> dict[str, str]:
    return {t["sha256"]: t["name"] for t in load_data("known_chat_templates.json")["templates"]}


def analyse_template(
    source: str, sink: FindingSink, *, where: str, member: str | None = None
) -> TemplateInfo:
    """Check one chat template; ``where`` names it in evidence (e.g. the metadata key)."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    known = known_templates().get(digest)

    def add(rule: str, evidence: str) -> None:
        sink.add(rule, f"{where}: {evidence}", engine=ENGINE, member=member)

    for match in _INVISIBLE.finditer(source):
        add(
            "LLMC-TPL-003",
            f"invisible character U+{ord(match.group()):04X} at index {match.start()}",
        )
        break
    tree = _parse(source)
    if isinstance(tree, str):
        add("LLMC-TPL-004", tree)
        return TemplateInfo(digest, known)
    for evidence in _ssti(tree):
        add("LLMC-TPL-001", evidence)
    for evidence in _conditional_injection(tree):
        add("LLMC-TPL-002", evidence)
    for text in _literals(tree):
        run = _LONG_WHITESPACE.search(text)
        if run:
            add(
                "LLMC-TPL-003",
                f"{len(run.group())} consecutive whitespace characters in literal text",
            )
            break
    if known is None:
        add("LLMC-TPL-005", f"sha256 {digest} is not in the list of reviewed templates")
    return TemplateInfo(digest, known)


def _parse(source: str) -> Any:
    """The Jinja AST, or an error message; the sandbox is used so nothing can escape."""
    from jinja2 import TemplateSyntaxError, nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Generation(Extension):
        """Accept ``{% generation %}`` blocks that Hugging Face templates use for masks."""

        tags = {"generation"}  # noqa: RUF012 - Jinja's extension API expects a plain set

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    env = ImmutableSandboxedEnvironment(extensions=[loopcontrols, _Generation])
    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    except RecursionError:
        return "template nests too deeply to parse"


def _ssti(tree: Any) -> Iterator[str]:
    from jinja2 import nodes

    for node in tree.find_all(
        (nodes.Getattr, nodes.Getitem, nodes.Name, nodes.Filter, nodes.Const)
    ):
        if isinstance(node, nodes.Getattr) and _suspicious_attr(node.attr):
            yield f"attribute access .{node.attr} (line {node.lineno})"
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            value = node.arg.value
            if isinstance(value, str) and _suspicious_attr(value):
                yield f"item access [{value!r}] (line {node.lineno})"
        elif isinstance(node, nodes.Name) and node.name in SENSITIVE_NAMES:
            yield f"reference to {node.name!r} (line {node.lineno})"
        elif isinstance(node, nodes.Filter) and node.name == "attr":
            yield f"|attr filter reaches attributes by computed name (line {node.lineno})"
        elif isinstance(node, nodes.Const) and isinstance(node.value, str):
            dunder = _DUNDER.search(node.value)
            if dunder:
                yield f"string constant {dunder.group()!r} (line {node.lineno})"


def _suspicious_attr(name: str) -> bool:
    return name.startswith("_") or name in SENSITIVE_ATTRS


def _conditional_injection(tree: Any) -> Iterator[str]:
    """``if`` tests on message content whose branches emit literal text of their own."""
    from jinja2 import nodes

    for node in tree.find_all(nodes.If):
        branches = [(node.test, node.body, node.else_), *((e.test, e.body, []) for e in node.elif_)]
        for test, body, orelse in branches:
            if not _tests_content(test):
                continue
            for label, block in (("then", body), ("else", orelse)):
                emitted = "".join(_emitted_literals(block))
                if len(emitted.strip()) >= _MIN_INJECTED_CHARS and re.search(
                    "[A-Za-z]{3}", emitted
                ):
                    yield (
                        f"condition on message content (line {test.lineno}) emits in its "
                        f"{label} branch: {emitted.strip()[:80]!r}"
                    )


def _tests_content(test: Any) -> bool:
    from jinja2 import nodes

    mentions_content = any(
        (isinstance(n, nodes.Getattr) and n.attr == "content")
        or (
            isinstance(n, nodes.Getitem)
            and isinstance(n.arg, nodes.Const)
            and n.arg.value == "content"
        )
        or (isinstance(n, nodes.Name) and n.name == "content")
        for n in [test, *test.find_all((nodes.Getattr, nodes.Getitem, nodes.Name))]
    )
    if not mentions_content:
        return False
    parts = [test, *test.find_all((nodes.Compare, nodes.Call))]
    compares = any(
        op.op in ("in", "notin", "eq", "ne")
        for c in parts
        if isinstance(c, nodes.Compare)
        for op in c.ops
    )
    calls = any(
        isinstance(c, nodes.Call)
        and isinstance(c.node, nodes.Getattr)
        and c.node.attr in _CONTENT_CALLS
        for c in parts
    )
    return compares or calls


def _emitted_literals(block: list[Any]) -> Iterator[str]:
    """Literal text a block outputs directly (not inside a further content test)."""
    from jinja2 import nodes

    for stmt in block:
        if isinstance(stmt, nodes.Output):
            for part in stmt.nodes:
                if isinstance(part, nodes.TemplateData):
                    yield part.data
                else:
                    for const in [part, *part.find_all(nodes.Const)]:
                        if isinstance(const, nodes.Const) and isinstance(const.value, str):
                            yield const.value
        elif not isinstance(stmt, nodes.If):
            yield from _emitted_literals(list(stmt.iter_child_nodes()))


def _literals(tree: Any) -> Iterator[str]:
    from jinja2 import nodes

    for node in tree.find_all((nodes.TemplateData, nodes.Const)):
        value = node.data if isinstance(node, nodes.TemplateData) else node.value
        if isinstance(value, str):
            yield value
