"""Scorer registry: names from suite files to scorer classes, resolved lazily.

Built-in scorers are ``"module:Class"`` strings, imported only when chosen.
Other packages add scorers under the ``llmcert.scorers`` entry-point group;
a built-in name always wins, so a plug-in cannot silently replace one. The
registry is an object, so tests build their own instead of patching a global.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Mapping
from functools import partial
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast, get_args

from llmcert.errors import SpecError
from llmcert.scoring._types import RequestKind, Scorer

ENTRY_POINT_GROUP = "llmcert.scorers"

BUILTIN_SCORERS: Mapping[str, str] = {
    "exact_match": "llmcert.scoring.text:ExactMatchScorer",
    "numeric": "llmcert.scoring.text:NumericScorer",
    "regex": "llmcert.scoring.text:RegexScorer",
    "choice_letter": "llmcert.scoring.choice:ChoiceLetterScorer",
    "choice_loglikelihood": "llmcert.scoring.choice:ChoiceLoglikelihoodScorer",
    "refusal": "llmcert.judges.refusal:RefusalScorer",
    "keyword": "llmcert.judges.keywords:KeywordScorer",
    "code_tests": "llmcert.codeexec:CodeTestsScorer",
}

_NAME_FIELD = "scorer.name"
_ARGS_FIELD = "scorer.args"


def _import(spec: str) -> object:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


class ScorerRegistry:
    """Scorer names to classes.

    ``builtins`` maps names to ``"module:Class"`` strings; ``entry_point_group``
    (None to disable) is searched for names not built in.
    """

    def __init__(
        self,
        builtins: Mapping[str, str] = BUILTIN_SCORERS,
        *,
        entry_point_group: str | None = ENTRY_POINT_GROUP,
    ) -> None:
        self._builtins = dict(builtins)
        self._group = entry_point_group

    def _plugins(self) -> dict[str, EntryPoint]:
        if self._group is None:
            return {}
        return {ep.name: ep for ep in entry_points(group=self._group)}

    def names(self) -> list[str]:
        return sorted(set(self._builtins) | set(self._plugins()))

    def scorer_class(self, name: str) -> type[Scorer]:
        """The class registered as ``name``; SpecError naming the closest name if none is."""
        load: Callable[[], object]
        spec = self._builtins.get(name)
        if spec is not None:
            source, load = spec, partial(_import, spec)
        else:
            plugin = self._plugins().get(name)
            if plugin is None:
                raise SpecError(self._unknown(name), field=_NAME_FIELD)
            source, load = plugin.value, plugin.load
        try:
            cls = load()
        except Exception as exc:  # a broken plug-in must not look like a typo
            raise SpecError(
                f"scorer {name!r} ({source}) cannot be loaded: {exc}", field=_NAME_FIELD
            ) from exc
        return self._checked(name, source, cls)

    def make(self, name: str, args: Mapping[str, Any] | None = None) -> Scorer:
        """Build a scorer from a suite's ``scorer:`` section, validating its arguments."""
        cls = self.scorer_class(name)
        given = dict(args or {})
        if not all(isinstance(key, str) for key in given):
            raise SpecError(f"{name}: argument names must be strings", field=_ARGS_FIELD)
        signature = inspect.signature(cls)
        try:
            signature.bind(**given)
        except TypeError as exc:
            accepted = ", ".join(signature.parameters) or "none"
            raise SpecError(f"{name}: {exc} (accepted: {accepted})", field=_ARGS_FIELD) from exc
        try:
            return cls(**given)
        except SpecError:
            raise
        except (TypeError, ValueError) as exc:
            raise SpecError(f"{name}: {exc}", field=_ARGS_FIELD) from exc

    def _unknown(self, name: str) -> str:
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown scorer {name!r}{hint} Known scorers: {', '.join(known)}"

    @staticmethod
    def _checked(name: str, source: str, cls: object) -> type[Scorer]:
        problems = []
        if not inspect.isclass(cls):
            problems.append("it is not a class")
        else:
            if getattr(cls, "name", None) != name:
                problems.append(f"its name is {getattr(cls, 'name', None)!r}, not {name!r}")
            if getattr(cls, "request_kind", None) not in get_args(RequestKind):
                problems.append("its request_kind is not 'generate' or 'loglikelihood'")
            for method in ("score", "config"):
                if not callable(getattr(cls, method, None)):
                    problems.append(f"it has no {method}() method")
        if problems:
            raise SpecError(
                f"scorer {name!r} ({source}) is not a usable scorer: {'; '.join(problems)}",
                field=_NAME_FIELD,
            )
        return cast(type[Scorer], cls)


_DEFAULT = ScorerRegistry()


def make_scorer(name: str, args: Mapping[str, Any] | None = None) -> Scorer:
    """Build the scorer a suite names, e.g. ``make_scorer("numeric", {"rel_tol": 1e-4})``."""
    return _DEFAULT.make(name, args)


def scorer_names() -> list[str]:
    """Every scorer name that can be used: built-ins and installed plug-ins."""
    return _DEFAULT.names()
