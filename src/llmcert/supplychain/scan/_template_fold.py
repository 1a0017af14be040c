"""Constant folding over a Jinja syntax tree, so templates are judged by values, not spelling.

``'__cla' ~ 'ss__'``, ``['__cla', 'ss__']|join``, ``'%c%c'|format(95, 95)`` and a
name set earlier with ``{% set %}`` all reach the same attribute as the literal
``'__class__'``. :class:`Scope` records simple assignments (including
``{% set ns.x = ... %}`` and ``{% set x %}...{% endset %}`` blocks) and which
names hold message content; :meth:`Scope.fold` gives the possible values of an
expression, or none when it depends on runtime data. Nothing is evaluated by
Jinja: the folding is ours and works only on constants.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Final

#: At most this many candidate values per expression (branches multiply).
MAX_VALUES: Final = 8
MAX_TEXT: Final = 1 << 16
#: String methods and filters folded when their inputs are constants.
_STR_METHODS: Final = frozenset(
    {"join", "replace", "format", "lower", "upper", "strip", "lstrip", "rstrip", "title",
     "capitalize", "swapcase", "removeprefix", "removesuffix"}
)  # fmt: skip
_CONTENT_KEYS: Final = frozenset({"content"})


class Scope:
    def __init__(self, tree: Any) -> None:
        from jinja2 import nodes

        self.values: dict[str, list[Any]] = {}
        self.content: set[str] = {"content"}
        assigns: list[tuple[str, Any]] = []
        for node in tree.find_all((nodes.Assign, nodes.AssignBlock, nodes.For)):
            if isinstance(node, nodes.For):
                for target in _targets(node.target):
                    assigns.append((target, ("iter", node.iter)))
                continue
            for target in _targets(node.target):
                body = node.node if isinstance(node, nodes.Assign) else ("block", node.body)
                assigns.append((target, body))
        for _ in range(3):  # a few rounds let chains of assignments settle
            for name, value in assigns:
                if isinstance(value, tuple) and value[0] == "iter":
                    if self.holds_content(value[1]):
                        self.content.add(name)
                    for seq in self.fold(value[1]):
                        if isinstance(seq, list | tuple | str):
                            self._bind(name, list(seq)[:MAX_VALUES])
                    continue
                if isinstance(value, tuple):
                    self._bind(name, self._fold_block(value[1]))
                    continue
                if isinstance(value, nodes.Call) and isinstance(value.node, nodes.Name):
                    for kw in value.kwargs:  # namespace(x=...), dict(x=...)
                        if self.holds_content(kw.value):
                            self.content.add(f"{name}.{kw.key}")
                        self._bind(f"{name}.{kw.key}", self.fold(kw.value))
                if self.holds_content(value):
                    self.content.add(name)
                self._bind(name, self.fold(value))

    def _bind(self, name: str, values: list[Any]) -> None:
        known = self.values.setdefault(name, [])
        for value in values:
            if value not in known and len(known) < MAX_VALUES:
                known.append(value)

    def _fold_block(self, body: list[Any]) -> list[Any]:
        from jinja2 import nodes

        parts: list[list[Any]] = []
        for stmt in body:
            if not isinstance(stmt, nodes.Output):
                return []
            for item in stmt.nodes:
                parts.append(self.fold(item))
        return _joined(parts)

    def fold(self, node: Any) -> list[Any]:
        """Possible constant values of ``node`` (empty when any part is runtime data)."""
        try:
            return [v for v in self._fold(node) if not isinstance(v, str) or len(v) <= MAX_TEXT]
        except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError):
            return []
        except RecursionError:
            return []

    def _fold(self, node: Any) -> list[Any]:
        from jinja2 import nodes

        if isinstance(node, nodes.Const):
            return [node.value]
        if isinstance(node, nodes.TemplateData):
            return [node.data]
        if isinstance(node, nodes.Name):
            return list(self.values.get(node.name, []))
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            return list(self.values.get(f"{node.node.name}.{node.attr}", []))
        if isinstance(node, nodes.List | nodes.Tuple):
            items = [self.fold(i) for i in node.items]
            if not all(items):
                return []
            return [list(c) for c in itertools.islice(itertools.product(*items), MAX_VALUES)]
        if isinstance(node, nodes.Concat):
            return _joined([self.fold(n) for n in node.nodes])
        if isinstance(node, nodes.Add | nodes.Mul | nodes.Mod):
            op = {nodes.Add: "+", nodes.Mul: "*", nodes.Mod: "%"}[type(node)]
            return _binary(self.fold(node.left), self.fold(node.right), op)
        if isinstance(node, nodes.CondExpr):
            return (self.fold(node.expr1) + self.fold(node.expr2))[:MAX_VALUES]
        if isinstance(node, nodes.Getitem):
            return self._item(node)
        if isinstance(node, nodes.Filter):
            return self._filter(node)
        call = isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr)
        if call and node.node.attr in _STR_METHODS:
            return self._apply(node.node.node, node.node.attr, node.args)
        return []

    def _item(self, node: Any) -> list[Any]:
        from jinja2 import nodes

        out: list[Any] = []
        for base in self.fold(node.node):
            if isinstance(node.arg, nodes.Slice):
                bounds = [self.fold(b)[:1] or [None] if b is not None else [None]
                          for b in (node.arg.start, node.arg.stop, node.arg.step)]  # fmt: skip
                out.append(base[slice(bounds[0][0], bounds[1][0], bounds[2][0])])
            else:
                out.extend(base[key] for key in self.fold(node.arg) if isinstance(key, int))
        return out[:MAX_VALUES]

    def _filter(self, node: Any) -> list[Any]:
        name = node.name
        if node.node is None:
            return []
        if name == "join":
            sep = self.fold(node.args[0]) if node.args else [""]
            return [
                str(s).join(map(str, seq))
                for seq in self.fold(node.node)
                for s in sep
                if isinstance(seq, list | tuple | str)
            ][:MAX_VALUES]
        if name in ("reverse",):
            return [v[::-1] for v in self.fold(node.node) if isinstance(v, str | list)]
        if name == "format":
            return self._apply(node.node, "format", node.args)
        if name in ("first", "last"):
            return [v[0 if name == "first" else -1] for v in self.fold(node.node) if v]
        if name in ("string", "trim", "lower", "upper", "capitalize", "title"):
            method = {"string": "__str__", "trim": "strip"}.get(name, name)
            return [getattr(str(v), method)() for v in self.fold(node.node)]
        if name == "replace":
            return self._apply(node.node, name, node.args)
        if name in ("list",):
            return [list(v) for v in self.fold(node.node) if isinstance(v, str | list | tuple)]
        return []

    def _apply(self, receiver: Any, method: str, args: list[Any]) -> list[Any]:
        folded_args = [self.fold(a) for a in args]
        if not all(folded_args):
            return []
        out: list[Any] = []
        for base in self.fold(receiver):
            for combo in itertools.islice(itertools.product(*folded_args), MAX_VALUES):
                if not isinstance(base, str):
                    continue
                if method == "format":
                    out.extend(_format(base, combo))
                elif method == "join":
                    out.append(base.join(map(str, combo[0])) if combo else "")
                elif method == "replace":
                    old, new = str(combo[0]), str(combo[1]) if len(combo) > 1 else ""
                    if old and len(base) + base.count(old) * len(new) <= MAX_TEXT:
                        out.append(base.replace(old, new))
                else:
                    out.append(getattr(base, method)(*combo))
        return out[:MAX_VALUES]

    def holds_content(self, node: Any) -> bool:
        """``node`` is message content, or a value computed from it (``|lower``, ``[:9]``…)."""
        from jinja2 import nodes

        while True:
            if isinstance(node, nodes.Getattr) and node.attr in _CONTENT_KEYS:
                return True
            named = isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name)
            if named and f"{node.node.name}.{node.attr}" in self.content:
                return True
            if isinstance(node, nodes.Getitem) and any(
                k in _CONTENT_KEYS for k in self.fold(node.arg) if isinstance(k, str)
            ):
                return True
            if isinstance(node, nodes.Name):
                return node.name in self.content
            if isinstance(node, nodes.Filter) and self._picks_content(node):
                return True
            if (
                isinstance(node, nodes.Call)
                and isinstance(node.node, nodes.Getattr)
                and node.node.attr in ("get", "pop")
                and node.args
                and any(k in _CONTENT_KEYS for k in self.fold(node.args[0]) if isinstance(k, str))
            ):
                return True
            if isinstance(node, nodes.Concat):
                return any(self.holds_content(n) for n in node.nodes)
            if isinstance(node, nodes.Add):
                return self.holds_content(node.left) or self.holds_content(node.right)
            if not isinstance(
                node, nodes.Filter | nodes.Getattr | nodes.Getitem | nodes.Test | nodes.Call
            ):
                return False
            node = node.node

    def _picks_content(self, node: Any) -> bool:
        """``messages|map(attribute='content')`` and the like."""
        paths = [kw.value for kw in node.kwargs if kw.key == "attribute"]
        if node.name == "map" and len(node.args) >= 2:
            paths.append(node.args[1])
        return any(
            isinstance(v, str) and v.split(".")[-1] in _CONTENT_KEYS
            for path in paths
            for v in self.fold(path)
        )


def _targets(target: Any) -> list[str]:
    from jinja2 import nodes

    if isinstance(target, nodes.Name):
        return [target.name]
    if isinstance(target, nodes.NSRef):
        return [f"{target.name}.{target.attr}"]
    if isinstance(target, nodes.Tuple):
        return [n for item in target.items for n in _targets(item)]
    return []


_PERCENT: Final = re.compile(r"%[sdc%]")
_BRACES: Final = re.compile(r"\{\d*\}")


def _format(base: str, args: tuple[Any, ...]) -> list[str]:
    """``%``/``{}`` formatting with plain fields only: no widths, lookups or attribute paths."""
    if "%" in base:
        if re.sub(_PERCENT, "", base).count("%"):
            return []
        return [base % args]
    if re.sub(_BRACES, "", base).count("{") or "}" in re.sub(_BRACES, "", base):
        return []
    return [base.format(*args)]


def _joined(parts: list[list[Any]]) -> list[Any]:
    if not all(parts):
        return []
    combos = itertools.islice(itertools.product(*parts), MAX_VALUES)
    return ["".join(map(str, combo)) for combo in combos]


def _binary(left: list[Any], right: list[Any], op: str) -> list[Any]:
    out: list[Any] = []
    for a, b in itertools.islice(itertools.product(left, right), MAX_VALUES):
        if op == "+" and type(a) is type(b) and isinstance(a, str | int | list):
            out.append(a + b)
        elif op == "*" and isinstance(a, str) and isinstance(b, int) and b * len(a) <= MAX_TEXT:
            out.append(a * b)
        elif op == "%" and isinstance(a, str):
            out.extend(_format(a, tuple(b) if isinstance(b, list) else (b,)))
    return out
