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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from llmcert._hashing import digest_json
from llmcert.attacks._attack import Attack
from llmcert.engine._workunit import WorkUnit, unit_seed
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
class RenderedAttack:
    """One attack on one behaviour, rendered: what is sent, before the model is known."""

    attack: Attack
    behaviour: Item
    behaviour_hash: str
    language: str
    messages: tuple[ChatMessage, ...]
    prompt_digest: str


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


def render_cases(
    behaviours: Sequence[Item],
    attacks: Sequence[Attack],
    *,
    seed: int,
    languages: Literal["match", "all"] = "match",
) -> list[RenderedAttack]:
    """Behaviours × attacks (an attack only on the languages it is written for, unless
    ``languages="all"``), behaviour-major; the costly half of planning, model-independent."""
    out: list[RenderedAttack] = []
    for item in behaviours:
        item_hash = item.hash
        lang = behaviour_language(item)
        for attack in applicable(attacks, lang, languages):
            messages = attack.render(item.input, lang, seed=seed, item_hash=item_hash)
            out.append(
                RenderedAttack(attack, item, item_hash, lang, messages, messages_digest(messages))
            )
    return out


def key_cases(
    rendered: Sequence[RenderedAttack],
    *,
    identity_digest: str,
    settings: GenerationSettings,
    seed: int,
    nonce: str,
) -> list[AttackCase]:
    """Rendered attacks keyed to the model as work units."""
    settings_digest = settings.digest()
    cases: list[AttackCase] = []
    for r in rendered:
        common = {
            "attack_digest": r.attack.digest,
            "item_hash": r.behaviour_hash,
            "prompt_digest": r.prompt_digest,
            "settings_digest": settings_digest,
            "seed": seed,
            "step": STATIC_STEP,
        }
        request = GenerateRequest(
            settings,
            messages=r.messages,
            seed=unit_seed(seed, r.behaviour_hash, STATIC_STEP),
            idempotency_key=attack_request_key(nonce=nonce, **common),  # type: ignore[arg-type]
        )
        key = attack_unit_key(identity_digest=identity_digest, **common)  # type: ignore[arg-type]
        unit = WorkUnit(key, r.behaviour, r.behaviour_hash, STATIC_STEP, request)
        cases.append(
            AttackCase(r.attack, r.behaviour, r.behaviour_hash, r.language, r.messages, unit)
        )
    return cases


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
    """Render and key in one step (see :func:`render_cases`, :func:`key_cases`)."""
    rendered = render_cases(behaviours, attacks, seed=seed, languages=languages)
    return key_cases(
        rendered, identity_digest=identity_digest, settings=settings, seed=seed, nonce=nonce
    )
