"""Chat templates are code: parse them with Jinja's parser and judge the syntax tree by value.

Nothing is ever rendered. Constant expressions are folded and simple
``{% set %}`` assignments followed first (:mod:`._template_fold`), so an
attribute is judged by the name it resolves to, whatever syntax reaches it
(``.x``, ``['x']``, ``|attr``, ``map(attribute=…)``, ``selectattr``, a name built
with ``~``). The checks look for the shapes of known attacks: reaching Python
internals (server-side template injection), emitting instructions only when a
message contains a trigger, and text hidden with invisible characters or long
whitespace. The template's digest is compared with a list of reviewed templates.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from llmcert.supplychain.scan._findings import FindingSink, load_data
from llmcert.supplychain.scan._template_fold import Scope

ENGINE = "template-ast"

#: Globals that exist only to probe for an escape (Jinja/Flask helpers): any use is flagged.
SENSITIVE_NAMES: Final = frozenset(
    {"lipsum", "cycler", "joiner", "self", "config", "request", "url_for", "get_flashed_messages",
}
)  # fmt: skip
#: Attributes of Python internals (types, frames, code) that no data object in a template has.
INTERNAL_ATTRS: Final = frozenset(
    {"mro", "subclasses", "func_globals", "f_globals", "f_locals", "f_back", "f_builtins",
     "gi_frame", "gi_code", "cr_frame", "tb_frame", "tb_next", "co_code", "load_module",
     "popen", "getoutput", "check_output"}
)  # fmt: skip
#: Names that are ordinary data keys (``ns.system``) but dangerous after an internal access.
ESCAPE_ATTRS: Final = frozenset(
    {"os", "system", "eval", "exec", "import", "modules", "environ", "globals", "builtins",
     "getattr", "setattr", "subprocess", "spawn", "fork", "remove", "unlink", "rmtree", "read",
     "open", "sys", "application", "module"}
)  # fmt: skip
#: Names that are fine to call but must not be the start of an attribute chain.
ABUSABLE_NAMES: Final = frozenset({"namespace", "range", "dict", "raise_exception", "loop"})
#: Filters whose ``attribute=`` (or first) argument is an attribute path looked up on each item.
ATTRIBUTE_FILTERS: Final = frozenset(
    {"map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique", "min", "max",
     "dictsort", "attr"}
)  # fmt: skip
_CONTENT_CALLS: Final = frozenset(
    {"startswith", "endswith", "find", "rfind", "count", "index", "rindex", "search", "match",
     "fullmatch", "__contains__"}
)  # fmt: skip
_TRIGGER_TESTS: Final = frozenset(
    {"sameas", "eq", "equalto", "==", "ne", "!=", "in", "match", "search", "contains"}
)
_COMPUTED: Final = "\x00computed"
_DUNDER: Final = re.compile(r"__\w+__")
#: Unicode's Default_Ignorable_Code_Point set, the blank braille cell, and tag characters.
_INVISIBLE: Final = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_LONG_WHITESPACE: Final = re.compile(r"[ \t\r\n\u00a0\u2000-\u200a\u3000]{100,}")
_MIN_INJECTED_CHARS: Final = 16
#: Real chat templates are a few kilobytes; a larger one is not analysed (and blocks).
MAX_TEMPLATE: Final = 4 << 20


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

    if len(source) > MAX_TEMPLATE:
        sink.add(
            "LLMC-FMT-002",
            f"{where}: template of {len(source)} characters exceeds {MAX_TEMPLATE}",
            engine=ENGINE,
            member=member,
        )
        return TemplateInfo(digest, known)
    hidden = _INVISIBLE.findall(source)
    if hidden:
        first = _INVISIBLE.search(source)
        assert first is not None
        add(
            "LLMC-TPL-003",
            f"{len(hidden)} invisible character(s), first U+{ord(first.group()):04X} "
            f"at index {first.start()}",
        )
    tree = _parse(source)
    if isinstance(tree, str):
        add("LLMC-TPL-004", tree)
        return TemplateInfo(digest, known)
    scope = Scope(tree)
    for evidence in dict.fromkeys(_ssti(tree, scope)):
        add("LLMC-TPL-001", evidence)
    for evidence in dict.fromkeys(_conditional_injection(tree, scope)):
        add("LLMC-TPL-002", evidence)
    for text in _literals(tree, scope):
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


def parses(source: str) -> bool:
    return not isinstance(_parse(source), str)


def uses_messages(source: str) -> bool:
    """Whether ``source`` parses as a Jinja template that reads ``messages``."""
    from jinja2 import nodes

    tree = _parse(source)
    return not isinstance(tree, str) and any(
        n.name == "messages" for n in tree.find_all(nodes.Name)
    )


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


def _ssti(tree: Any, scope: Scope) -> Iterator[str]:
    from jinja2 import nodes

    for node in tree.find_all(nodes.Expr):
        line = node.lineno
        for attr in _attributes_reached(node, scope):
            if attr == _COMPUTED:
                yield f"attribute name computed at render time (line {line})"
            elif attr.startswith("_") or attr in INTERNAL_ATTRS:
                yield f"attribute {attr!r} reached (line {line})"
            elif attr in ESCAPE_ATTRS and _reaches_internals(node, scope):
                yield f"attribute {attr!r} reached from Python internals (line {line})"
        if isinstance(node, nodes.Name) and node.name in SENSITIVE_NAMES:
            yield f"reference to {node.name!r} (line {line})"
        rooted = isinstance(node, nodes.Getattr | nodes.Getitem) and isinstance(
            node.node, nodes.Name
        )
        if rooted and node.node.name in ABUSABLE_NAMES | SENSITIVE_NAMES and _private(node, scope):
            yield f"{node.node.name!r} used to reach Python internals (line {line})"
        if not isinstance(node, nodes.Const | nodes.TemplateData):
            for value in scope.fold(node):
                if isinstance(value, str) and _DUNDER.search(value):
                    yield f"computed string {_DUNDER.search(value).group()!r} (line {line})"  # type: ignore[union-attr]
        elif isinstance(node, nodes.Const) and isinstance(node.value, str):
            dunder = _DUNDER.search(node.value)
            if dunder:
                yield f"string constant {dunder.group()!r} (line {line})"


def _private(node: Any, scope: Scope) -> bool:
    return any(a.startswith("_") or a in INTERNAL_ATTRS for a in _attributes_reached(node, scope))


def _reaches_internals(node: Any, scope: Scope) -> bool:
    """Whether the object ``node`` looks up on came through a private or internal attribute."""
    from jinja2 import nodes

    inner = getattr(node, "node", None)
    while inner is not None:
        if isinstance(inner, nodes.Name) and inner.name in SENSITIVE_NAMES:
            return True
        if _private(inner, scope):
            return True
        inner = getattr(inner, "node", None)
    return False


def _attributes_reached(node: Any, scope: Scope) -> list[str]:
    """Attribute names this one node looks up, by value (dotted paths split)."""
    from jinja2 import nodes

    names: list[Any] = []
    if isinstance(node, nodes.Getattr):
        names.append(node.attr)
    elif isinstance(node, nodes.Getitem):
        names.extend(scope.fold(node.arg))
    elif isinstance(node, nodes.Filter) and node.name in ATTRIBUTE_FILTERS:
        paths = [kw.value for kw in node.kwargs if kw.key == "attribute"]
        args = list(node.args)
        if node.name == "map" and args and "attr" in scope.fold(args[0]):
            args = args[1:]
            paths += args[:1]
        elif node.name in ("attr", "selectattr", "rejectattr", "groupby") and args:
            paths += args[:1]
        for path in paths:
            folded = scope.fold(path)
            # a name only known at render time (message text, say) could be any attribute
            names.extend(folded or [_COMPUTED])
    return [part for n in names if isinstance(n, str) for part in n.split(".")]


def _conditional_injection(tree: Any, scope: Scope) -> Iterator[str]:
    """``if`` tests on message content whose branches emit literal text of their own."""
    from jinja2 import nodes

    branches: list[tuple[Any, list[Any], list[Any]]] = []
    for node in tree.find_all((nodes.If, nodes.For, nodes.CondExpr)):
        if isinstance(node, nodes.If):
            branches.append((node.test, node.body, node.else_))
            branches.extend((e.test, e.body, []) for e in node.elif_)
        elif isinstance(node, nodes.For) and node.test is not None:
            branches.append((node.test, node.body, []))
        elif isinstance(node, nodes.CondExpr) and node.test is not None:
            then = [nodes.Output([node.expr1])]
            orelse = [nodes.Output([node.expr2])] if node.expr2 is not None else []
            branches.append((node.test, then, orelse))
    for test, body, orelse in branches:
        if not _tests_content(test, scope):
            continue
        for label, block in (("then", body), ("else", orelse)):
            emitted = "".join(_emitted(block, scope))
            if len(emitted.strip()) >= _MIN_INJECTED_CHARS and re.search("[A-Za-z]{3}", emitted):
                yield (
                    f"condition on message content (line {test.lineno}) emits in its "
                    f"{label} branch: {emitted.strip()[:80]!r}"
                )


def _tests_content(test: Any, scope: Scope) -> bool:
    """A comparison, membership test or string search with message content as an operand.

    A role comparison next to a bare ``message.content`` truth test is not one.
    """
    from jinja2 import nodes

    for node in [test, *test.find_all((nodes.Compare, nodes.Call, nodes.Test))]:
        if isinstance(node, nodes.Compare):
            operands = [node.expr, *(op.expr for op in node.ops)]
            if any(op.op in ("in", "notin", "eq", "ne") for op in node.ops) and any(
                scope.holds_content(o) for o in operands
            ):
                return True
        elif isinstance(node, nodes.Call):
            callee = node.node
            if (
                isinstance(callee, nodes.Getattr)
                and callee.attr in _CONTENT_CALLS
                and (
                    scope.holds_content(callee.node)
                    or any(scope.holds_content(a) for a in node.args)
                )
            ):
                return True
        elif (
            isinstance(node, nodes.Test)
            and node.name in _TRIGGER_TESTS
            and (scope.holds_content(node.node) or any(scope.holds_content(a) for a in node.args))
        ):
            return True
    return False


def _emitted(block: list[Any], scope: Scope) -> Iterator[str]:
    """Literal text a block outputs, however deeply nested (folded names included)."""
    from jinja2 import nodes

    for stmt in block:
        for output in [stmt] if isinstance(stmt, nodes.Output) else stmt.find_all(nodes.Output):
            for part in output.nodes:
                folded = [v for v in scope.fold(part) if isinstance(v, str)]
                if folded:
                    yield folded[0]
                    continue
                for const in [part, *part.find_all(nodes.Const)]:
                    if isinstance(const, nodes.Const) and isinstance(const.value, str):
                        yield const.value


def _literals(tree: Any, scope: Scope) -> Iterator[str]:
    from jinja2 import nodes

    for node in tree.find_all((nodes.TemplateData, nodes.Const)):
        value = node.data if isinstance(node, nodes.TemplateData) else node.value
        if isinstance(value, str):
            yield value
    for name_values in scope.values.values():
        yield from (v for v in name_values if isinstance(v, str))
