"""Each unit's drill-down section of the HTML report, renderable one unit at a time.

Prompts repeat a lot (system message, few-shot examples, repeats of one item).
Each distinct long text is written once and referenced, which keeps a 2000-unit
report to a few megabytes. Which texts are shared depends only on the requests,
which are known before any answer arrives; so a unit's section can be rendered as
soon as that unit is scored, while other calls are still in flight.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from llmcert.report._html_kit import fmt, show, template
from llmcert.report._schema import UnitRecord

if TYPE_CHECKING:
    from markupsafe import Markup

#: A text at least this long that occurs in two or more prompts is written once.
SHARE_MIN_CHARS = 160
_PREVIEW_CHARS = 90
_PROMPT_KEYS = {"messages", "prompt", "context", "continuations"}


class RequestRow(NamedTuple):
    """What a unit asks, known before it is sent."""

    item_id: str
    repeat: int
    request: dict[str, Any]


@dataclass(frozen=True)
class Shared:
    ident: str
    label: str
    text: str
    uses: int

    @property
    def preview(self) -> str:
        head = " ".join(self.text[:_PREVIEW_CHARS].split())
        return head + ("…" if len(self.text) > _PREVIEW_CHARS else "")


@dataclass(frozen=True)
class Part:
    """One piece of a prompt: inline ``text``, or a reference to shared text."""

    label: str
    text: str | None = None
    shared: Shared | None = None


@dataclass(frozen=True)
class SameAs:
    """The first unit that sent the very same request."""

    index: int
    item_id: str
    repeat: int


@dataclass
class UnitView:
    index: int
    unit: UnitRecord
    state: str
    extracted: str
    value: str
    latency: str
    parts: list[Part] = field(default_factory=list)
    continuations: list[str] = field(default_factory=list)
    extra_request: str | None = None
    same_as: SameAs | None = None
    response_text: str | None = None
    response_fields: list[tuple[str, str]] = field(default_factory=list)
    explanation: str | None = None


def unit_state(unit: UnitRecord) -> str:
    """error | unscored | wrong | correct: what the filters select on."""
    score = unit.score or {}
    status = score.get("status")
    if unit.status == "error" or status == "error":
        return "error"
    value = score.get("value")
    if status != "scored" or not isinstance(value, int | float):
        return "unscored"
    return "correct" if value >= 1.0 else "wrong"


def _texts(request: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of the parts of a request a person reads as the prompt."""
    out: list[tuple[str, str]] = []
    messages = request.get("messages")
    if isinstance(messages, list):
        for msg in messages:
            if isinstance(msg, dict):
                out.append((str(msg.get("role", "message")), show(msg.get("content", ""))))
            else:
                out.append(("message", show(msg)))
    for key in ("prompt", "context"):
        if isinstance(request.get(key), str):
            out.append((key, request[key]))
    return out


def _key(value: Any) -> str:
    """Equality key for JSON-like data (key order does not matter)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _common_prefix(texts: list[str]) -> str:
    if len(texts) < 2:
        return ""
    lo, hi = min(texts), max(texts)
    n = 0
    while n < len(lo) and lo[n] == hi[n]:
        n += 1
    prefix = lo[:n]
    cut = prefix.rfind("\n")
    return prefix[: cut + 1] if cut >= SHARE_MIN_CHARS else prefix


def _plan_sharing(requests: list[dict[str, Any]]) -> tuple[dict[str, Shared], Shared | None]:
    """Which texts to write once: repeated long parts, and a long common prefix."""
    counts: Counter[str] = Counter()
    labels: dict[str, str] = {}
    flat_prompts: list[str] = []
    for request in requests:
        for label, text in _texts(request):
            counts[text] += 1
            labels.setdefault(text, label)
            if label in ("prompt", "context"):
                flat_prompts.append(text)
    shared: dict[str, Shared] = {}
    for text, uses in counts.items():
        if uses >= 2 and len(text) >= SHARE_MIN_CHARS:
            shared[text] = Shared(f"s{len(shared) + 1}", labels[text], text, uses)
    prefix_text = _common_prefix([t for t in flat_prompts if t not in shared])
    prefix = None
    if len(prefix_text) >= SHARE_MIN_CHARS:
        uses = sum(1 for t in flat_prompts if t.startswith(prefix_text))
        prefix = Shared(f"s{len(shared) + 1}", "common prefix", prefix_text, uses)
    return shared, prefix


def _common_fields(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Request fields other than the prompt with one value across all units (settings…)."""
    if not requests:
        return {}
    first = {k: v for k, v in requests[0].items() if k not in _PROMPT_KEYS}
    common: dict[str, Any] = {}
    for key, value in first.items():
        encoded = _key(value)
        if all(key in r and _key(r[key]) == encoded for r in requests[1:]):
            common[key] = value
    return common


def _unit_macro() -> Callable[[UnitView], Markup]:
    macro: Callable[[UnitView], Markup] = template("report_unit.html.j2").module.__dict__["unit"]
    return macro


class UnitSections:
    """Plans the shared texts of all units' requests, then renders units one by one."""

    def __init__(self, rows: Sequence[RequestRow]) -> None:
        requests = [row.request for row in rows]
        keys = [_key(request) for request in requests]
        first: dict[str, int] = {}
        for index, key in enumerate(keys):
            first.setdefault(key, index)
        self._rows = list(rows)
        self._first = [first[key] for key in keys]
        distinct = [requests[index] for index in first.values()]
        self._shared, self._prefix = _plan_sharing(distinct)
        self.common_request = _common_fields(distinct)
        self._html: dict[int, tuple[str, Markup]] = {}

    @classmethod
    def of(cls, units: Sequence[UnitRecord]) -> UnitSections:
        return cls([RequestRow(u.item_id, u.repeat, u.request) for u in units])

    @property
    def pool(self) -> list[Shared]:
        """Every shared text, in the order their identifiers were given."""
        return list(self._shared.values()) + ([self._prefix] if self._prefix else [])

    def render(self, index: int, unit: UnitRecord) -> None:
        """Render unit ``index`` now; :meth:`html` reuses it if the record is the same."""
        self._html[index] = (unit.key, _unit_macro()(self._view(index, unit)))

    def html(self, units: Sequence[UnitRecord]) -> Markup:
        """All sections in order, rendering any not rendered yet (or rendered for another key)."""
        from markupsafe import Markup

        if len(units) != len(self._rows):
            raise ValueError(f"planned {len(self._rows)} units, got {len(units)}")
        for index, unit in enumerate(units):
            done = self._html.get(index)
            if done is None or done[0] != unit.key:
                self.render(index, unit)
        return Markup("").join(self._html[i][1] for i in range(len(units)))

    def _view(self, index: int, unit: UnitRecord) -> UnitView:
        score = unit.score or {}
        view = UnitView(
            index=index,
            unit=unit,
            state=unit_state(unit),
            extracted="" if score.get("extracted") is None else show(score["extracted"]),
            value=fmt(score["value"], 2) if isinstance(score.get("value"), int | float) else "—",
            latency="—" if unit.latency_s is None else f"{unit.latency_s:.2f} s",
            explanation=None if score.get("explanation") is None else show(score["explanation"]),
        )
        first = self._first[index]
        if first != index:
            row = self._rows[first]
            view.same_as = SameAs(first, row.item_id, row.repeat)
        else:
            request = unit.request
            view.parts = self._parts(request)
            conts = request.get("continuations")
            if isinstance(conts, list):
                view.continuations = [show(c) for c in conts]
            extra = {
                k: v
                for k, v in request.items()
                if k not in _PROMPT_KEYS and k not in self.common_request
            }
            view.extra_request = show(extra) if extra else None
        response = unit.response or {}
        if isinstance(response.get("text"), str):
            view.response_text = response["text"]
        view.response_fields = [(k, show(v)) for k, v in response.items() if k != "text"]
        return view

    def _parts(self, request: dict[str, Any]) -> list[Part]:
        shared, prefix = self._shared, self._prefix
        parts: list[Part] = []
        for label, text in _texts(request):
            if text in shared:
                parts.append(Part(label, shared=shared[text]))
            elif (
                prefix is not None
                and label in ("prompt", "context")
                and text.startswith(prefix.text)
            ):
                parts.append(Part(label, shared=prefix))
                parts.append(Part(label + " (continued)", text=text[len(prefix.text) :]))
            else:
                parts.append(Part(label, text=text))
        return parts
