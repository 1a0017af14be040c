"""Attack work units: one model call per (attack, behaviour), keyed by everything behind it.

The key covers the attack's digest, the behaviour's content hash, the digest of
the exact conversation sent, the model's identity, the generation settings, the
seed and the step (0 for a static attack; an adaptive attack's n-th call is step
n). So a changed template, table, library output, model or setting never reuses
an old answer, and a rerun of the same command sends only what the journal lacks.
Units go through the evaluation engine (:func:`llmcert.engine.execute`) and its
journal unchanged: exactly once, resumable, with request keys sent as
``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from llmcert._hashing import digest_json
from llmcert.attacks._attack import Attack
from llmcert.engine._workunit import PlannedRequest, WorkUnit, unit_seed
from llmcert.items import Item
from llmcert.models._types import ChatMessage, GenerateRequest, GenerationSettings

#: Static attacks send this many calls per behaviour.
STATIC_STEP = 0


def _key(tag: str, *parts: str) -> str:
    return hashlib.sha256("\x1f".join((tag, *parts)).encode()).hexdigest()


def attack_unit_key(
    *,
    attack_digest: str,
    item_hash: str,
    prompt_digest: str,
    identity_digest: str,
    settings_digest: str,
    seed: int,
    step: int,
) -> str:
    return _key(
        "llmcert.attack-unit/1",
        attack_digest,
        item_hash,
        prompt_digest,
        identity_digest,
        settings_digest,
        str(seed),
        str(step),
    )


def attack_request_key(
    *, nonce: str, attack_digest: str, item_hash: str, prompt_digest: str, settings_digest: str,
    seed: int, step: int,
) -> str:  # fmt: skip
    return _key(
        "llmcert.attack-request/1",
        nonce,
        attack_digest,
        item_hash,
        prompt_digest,
        settings_digest,
        str(seed),
        str(step),
    )


def messages_digest(messages: Sequence[ChatMessage]) -> str:
    return digest_json([[m.role, m.content] for m in messages])


@dataclass(frozen=True)
class AttackCase:
    """One attack on one behaviour, planned as one work unit."""

    attack: Attack
    behaviour: Item
    behaviour_hash: str
    language: str
    messages: tuple[ChatMessage, ...]
    unit: WorkUnit

    @property
    def key(self) -> str:
        return self.unit.key


def behaviour_language(item: Item) -> str:
    lang = item.metadata.get("language")
    return str(lang) if lang else "en"


def applicable(
    attacks: Sequence[Attack], language: str, languages: Literal["match", "all"] = "match"
) -> list[Attack]:
    """The attacks sent to a behaviour in ``language``."""
    return [a for a in attacks if languages == "all" or a.applies_to(language)]


@dataclass(frozen=True, slots=True)
class _Rendered:
    """One unit's request, before the model is known."""

    messages: tuple[ChatMessage, ...]
    request: GenerateRequest
    key_parts: dict[str, Any]


class AttackPlan:
    """Behaviours × attacks as work units, rendered and keyed only when asked for.

    A unit's key covers its rendered prompt, so nothing can be keyed before it is
    rendered; rendering all 10,000 prompts of a full static run before the first
    call would keep the endpoint idle for seconds. :meth:`units` instead renders a
    chunk at a time as the engine's workers take units, so rendering overlaps with
    waiting on answers, and asks the journal about each chunk as it is keyed:
    answered units are skipped, everything else is sent exactly once.

    A request does not depend on the model, its key does: with the identity not
    yet known (``identity_digest=None``), :meth:`first_wave` renders requests in
    order so they can be sent while the model is identified, and
    :meth:`bind` supplies the identity before :meth:`units` keys anything.

    Units are handed out attack by attack (an attack's library, if it needs one,
    is first called well into the run, after a warm-up thread has loaded it);
    :attr:`cases` lists them behaviour by behaviour, the order of every report.
    """

    CHUNK = 64

    def __init__(
        self,
        behaviours: Sequence[Item],
        attacks: Sequence[Attack],
        *,
        identity_digest: str | None,
        settings: GenerationSettings,
        seed: int,
        nonce: str,
        languages: Literal["match", "all"] = "match",
    ) -> None:
        self._attacks = list(attacks)
        self._behaviours = [(b, b.hash, behaviour_language(b)) for b in behaviours]
        self._identity = identity_digest
        self._settings = settings
        self._settings_digest = settings.digest()
        self._seed = seed
        self.nonce = nonce
        # (attack index, behaviour index), attack-major: the order units are handed out
        self._slots = [
            (ai, bi)
            for ai, attack in enumerate(self._attacks)
            for bi, (_, _, lang) in enumerate(self._behaviours)
            if languages == "all" or attack.applies_to(lang)
        ]
        self._next = 0
        self._early: dict[tuple[int, int], _Rendered] = {}
        self._planned: dict[tuple[int, int], AttackCase] = {}
        self.by_key: dict[str, AttackCase] = {}
        self.sent = 0
        self.from_journal = 0

    @property
    def total(self) -> int:
        return len(self._slots)

    def first_wave(self) -> Iterator[PlannedRequest]:
        """The units' requests in order, rendered (once) before the model is known."""
        for ai, bi in self._slots:
            rendered = self._early.setdefault((ai, bi), self._render(ai, bi))
            item, item_hash, _ = self._behaviours[bi]
            yield PlannedRequest(item, item_hash, STATIC_STEP, rendered.request)

    def bind(self, identity_digest: str) -> None:
        self._identity = identity_digest

    def units(
        self,
        answered: Callable[[list[str]], Container[str]] | None = None,
        on_answered: Callable[[], None] | None = None,
    ) -> Iterator[WorkUnit]:
        """The units still to send: those whose keys ``answered`` does not report."""
        while self._next < len(self._slots):
            chunk = self._plan(self.CHUNK)
            done = answered([c.key for c in chunk]) if answered is not None else ()
            for case in chunk:
                if case.key in done:
                    self.from_journal += 1
                    if on_answered is not None:
                        on_answered()
                else:
                    self.sent += 1
                    yield case.unit

    @property
    def cases(self) -> list[AttackCase]:
        """Every case, behaviour-major (rendering whatever :meth:`units` has not)."""
        self._plan(len(self._slots))
        return [self._planned[ab] for ab in sorted(self._planned, key=lambda ab: (ab[1], ab[0]))]

    def _plan(self, n: int) -> list[AttackCase]:
        if self._identity is None:
            raise RuntimeError("AttackPlan.bind(identity) must come before units are keyed")
        slots = self._slots[self._next : self._next + n]
        self._next += len(slots)
        out = [self._case(ai, bi) for ai, bi in slots]
        for (ai, bi), case in zip(slots, out, strict=True):
            self._planned[ai, bi] = case
            self.by_key[case.key] = case
        return out

    def _render(self, ai: int, bi: int) -> _Rendered:
        attack = self._attacks[ai]
        item, item_hash, lang = self._behaviours[bi]
        messages = attack.render(item.input, lang, seed=self._seed, item_hash=item_hash)
        parts = self._key_parts(ai, bi, messages_digest(messages))
        request = GenerateRequest(
            self._settings,
            messages=messages,
            seed=unit_seed(self._seed, item_hash, STATIC_STEP),
            idempotency_key=attack_request_key(nonce=self.nonce, **parts),
        )
        return _Rendered(messages, request, parts)

    def _key_parts(self, ai: int, bi: int, prompt_digest: str) -> dict[str, Any]:
        return {
            "attack_digest": self._attacks[ai].digest,
            "item_hash": self._behaviours[bi][1],
            "prompt_digest": prompt_digest,
            "settings_digest": self._settings_digest,
            "seed": self._seed,
            "step": STATIC_STEP,
        }

    def _case(self, ai: int, bi: int) -> AttackCase:
        assert self._identity is not None
        r = self._early.pop((ai, bi), None) or self._render(ai, bi)
        key = attack_unit_key(identity_digest=self._identity, **r.key_parts)
        item, item_hash, lang = self._behaviours[bi]
        unit = WorkUnit(key, item, item_hash, STATIC_STEP, r.request)
        return AttackCase(self._attacks[ai], item, item_hash, lang, r.messages, unit)


def plan_cases(
    behaviours: Sequence[Item],
    attacks: Sequence[Attack],
    *,
    identity_digest: str,
    settings: GenerationSettings,
    seed: int,
    nonce: str,
    languages: Literal["match", "all"] = "match",
) -> list[AttackCase]:
    """Every case at once, behaviour-major (an attack only on the languages it is written
    for, unless ``languages="all"``); see :class:`AttackPlan` for planning as units are sent."""
    return AttackPlan(
        behaviours,
        attacks,
        identity_digest=identity_digest,
        settings=settings,
        seed=seed,
        nonce=nonce,
        languages=languages,
    ).cases
