"""Fault rules for the fake OpenAI server.

A rule pairs a *kind* (what goes wrong) with a *trigger* (when it goes wrong). Rules are
plain frozen data so they can be written as CLI strings, compared in tests and swapped at
run time; the mutable counting state lives in :class:`FaultState`, owned by the server.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal, get_args

FaultKind = Literal["status", "drop", "malformed", "timeout", "slow", "cut"]
TriggerKind = Literal["always", "first", "every", "probability", "first_attempt"]
Scope = Literal["generation", "unit", "all"]
MalformedVariant = Literal["text", "no_choices"]

_DEFAULT_DELAY: dict[str, float] = {"timeout": 30.0, "slow": 1.0}


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One injected failure.

    ``kind``:
      ``status``    answer ``status`` (500, 429, …) with an OpenAI-style error body and,
                    when ``retry_after`` is set, a ``Retry-After`` header;
      ``drop``      read the request, then close the connection without an answer;
      ``malformed`` answer 200 with a body that is not JSON (``variant="text"``) or JSON
                    without ``choices`` (``variant="no_choices"``);
      ``timeout``   hold the request ``delay`` seconds (default 30), then close without an
                    answer, so the client's own timeout fires first;
      ``slow``      add ``delay`` seconds (default 1) and answer normally. Slow rules stack
                    with each other and with one other firing rule.
      ``cut``       for a streamed answer, send half the tokens, stall ``delay`` seconds
                    (default 0) and hang up without the final event; otherwise as ``drop``.

    ``scope`` is ``generation`` (chat and completion calls), ``unit`` (those of them that
    carry an ``Idempotency-Key``: work units, not identification canaries) or ``all``.
    ``trigger`` counts the requests in ``scope`` that this rule sees: ``first`` fires on the
    first ``n``, ``every`` on every ``n``-th, ``probability`` with chance ``p`` from a
    ``seed``-ed generator, ``first_attempt`` on the first request carrying each
    ``Idempotency-Key`` (so every retry succeeds), ``always`` on all of them.

    ``after_generation`` commits the generation (stored under the idempotency key, counted
    in ``generations_by_key``) *before* failing: the answer was produced but lost on the
    way, which is exactly the case idempotency keys exist for.
    """

    kind: FaultKind
    trigger: TriggerKind = "always"
    n: int = 1
    p: float = 1.0
    seed: int = 0
    status: int = 500
    retry_after: str | None = None
    delay: float | None = None
    variant: MalformedVariant = "text"
    scope: Scope = "generation"
    after_generation: bool = False

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.trigger not in get_args(TriggerKind):
            raise ValueError(f"unknown fault trigger {self.trigger!r}")
        if self.scope not in get_args(Scope):
            raise ValueError(f"unknown fault scope {self.scope!r}")
        if self.variant not in get_args(MalformedVariant):
            raise ValueError(f"unknown malformed variant {self.variant!r}")
        if self.n < 1:
            raise ValueError(f"fault trigger count must be >= 1, got {self.n}")
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"fault probability must be in [0, 1], got {self.p}")
        if self.kind == "status" and not 400 <= self.status <= 599:
            raise ValueError(f"fault status must be a 4xx/5xx code, got {self.status}")
        if self.delay is not None and self.delay < 0:
            raise ValueError(f"fault delay must be >= 0, got {self.delay}")
        if self.retry_after is not None and not _is_header_safe(self.retry_after):
            raise ValueError("retry_after must be printable ASCII without CR/LF")

    @property
    def effective_delay(self) -> float:
        """Seconds this rule holds a request (0 for kinds that do not wait)."""
        if self.delay is not None:
            return self.delay
        return _DEFAULT_DELAY.get(self.kind, 0.0)

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        """Build a rule from ``KIND[:CODE][:OPTION…]``, the CLI form.

        Options: ``first=N``, ``every=K``, ``prob=P``, ``first_attempt``, ``always``,
        ``seed=S``, ``retry_after=V``, ``delay=SECONDS``, ``variant=text|no_choices``,
        ``scope=generation|unit|all``, ``after``. Example: ``status:429:every=3:retry_after=1``.
        """
        parts = [p.strip() for p in spec.split(":")]
        kind = parts[0]
        if kind not in get_args(FaultKind):
            raise ValueError(f"fault {spec!r}: unknown kind {kind!r}")
        args: dict[str, object] = {"kind": kind}
        rest = parts[1:]
        if kind == "status":
            if not rest or not rest[0].isdigit():
                raise ValueError(f"fault {spec!r}: 'status' needs an HTTP code, e.g. status:503")
            args["status"] = int(rest[0])
            rest = rest[1:]
        for token in rest:
            _apply_option(args, token, spec)
        try:
            return cls(**args)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"fault {spec!r}: {exc}") from exc


def _is_header_safe(value: str) -> bool:
    return all(32 <= ord(ch) < 127 for ch in value)


def _apply_option(args: dict[str, object], token: str, spec: str) -> None:
    name, sep, value = token.partition("=")
    try:
        if not sep:
            flags: dict[str, tuple[str, object]] = {
                "first_attempt": ("trigger", "first_attempt"),
                "first_key": ("trigger", "first_attempt"),
                "always": ("trigger", "always"),
                "after": ("after_generation", True),
            }
            if name not in flags:
                raise ValueError(f"unknown option {name!r}")
            key, val = flags[name]
            args[key] = val
        elif name == "first":
            args.update(trigger="first", n=int(value))
        elif name == "every":
            args.update(trigger="every", n=int(value))
        elif name in ("prob", "p"):
            args.update(trigger="probability", p=float(value))
        elif name == "seed":
            args["seed"] = int(value)
        elif name == "retry_after":
            args["retry_after"] = value
        elif name == "delay":
            args["delay"] = float(value)
        elif name in ("variant", "scope"):
            args[name] = value
        else:
            raise ValueError(f"unknown option {name!r}")
    except ValueError as exc:
        raise ValueError(f"fault {spec!r}: {exc}") from exc


@dataclass(slots=True)
class FaultState:
    """Counting state of one rule; only touched under the server's fault lock."""

    rule: FaultRule
    seen: int = 0
    keys: set[str] = field(default_factory=set)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.rule.seed)

    def fires(self, generation: bool, key: str | None) -> bool:
        """Count one request and say whether the rule fires on it."""
        rule = self.rule
        if rule.scope != "all" and not generation:
            return False
        if rule.scope == "unit" and key is None:
            return False  # a request without Idempotency-Key is not a work unit (e.g. a canary)
        self.seen += 1
        trigger = rule.trigger
        if trigger == "always":
            return True
        if trigger == "first":
            return self.seen <= rule.n
        if trigger == "every":
            return self.seen % rule.n == 0
        if trigger == "probability":
            return self.rng.random() < rule.p
        if key is None or key in self.keys:
            return False
        self.keys.add(key)
        return True


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What the rules decided for one request: extra delay plus at most one failure."""

    extra_delay: float = 0.0
    rule: FaultRule | None = None


NO_FAULT = FaultDecision()


def decide(states: tuple[FaultState, ...], generation: bool, key: str | None) -> FaultDecision:
    """Run every rule (so each counts every request) and combine what fires.

    Slow rules add up; the first other rule that fires is the failure.
    """
    if not states:
        return NO_FAULT
    extra = 0.0
    chosen: FaultRule | None = None
    for state in states:
        if not state.fires(generation, key):
            continue
        if state.rule.kind == "slow":
            extra += state.rule.effective_delay
        elif chosen is None:
            chosen = state.rule
    if chosen is None and extra == 0.0:
        return NO_FAULT
    return FaultDecision(extra, chosen)
