"""Attack: a named, versioned transform of a harmful behaviour into the prompt that is sent.

WDTA AI-STR-02 sorts attacks by what the attacker knows: L1 random perturbations,
L2 blind-box (fixed templates, encodings, obfuscations written without seeing the
model), L3 black-box (adaptive, reading the model's answers) and L4 white-box
(reading the model's internals). A static attack here (L1, L2) is a pure function
of the behaviour's text and a seeded random generator, so the same seed always
sends the same prompt. Its digest covers name, version, level, languages,
parameters and the attack's own material (template text, substitution tables):
editing a template changes the digest, and with it every work unit's key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, Self

from llmcert._hashing import digest_json
from llmcert.models._types import ChatMessage


class Level(StrEnum):
    """WDTA AI-STR-02's attack levels, by what the attacker knows of the model."""

    L1 = "L1"  # random
    L2 = "L2"  # blind-box
    L3 = "L3"  # black-box, adaptive
    L4 = "L4"  # white-box

    @property
    def meaning(self) -> str:
        return {
            "L1": "random",
            "L2": "blind-box",
            "L3": "black-box (adaptive)",
            "L4": "white-box",
        }[self.value]


class AttackIdentity:
    """What every kind of attack (static, adaptive, white-box) shares: the identity it is
    recorded under, and copies with some parameters changed (each with a new digest).

    For frozen dataclasses with these attributes (as fields or class constants).
    """

    name: str
    version: str
    level: Level
    family: str
    languages: tuple[str, ...]
    params: Mapping[str, Any]

    def identity(self) -> dict[str, Any]:
        """Name, version, level, family, languages and parameters, JSON-ready."""
        return {
            "name": self.name,
            "version": self.version,
            "level": self.level.value,
            "family": self.family,
            "languages": list(self.languages),
            "params": dict(self.params),
        }

    def with_params(self, **params: Any) -> Self:
        """A copy with some parameters changed (a new digest)."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ValueError(f"attack {self.name} has no parameter {unknown[0]!r}")
        # subclasses are dataclasses; mypy cannot see that through Self
        return dataclasses.replace(self, params={**self.params, **params})  # type: ignore[type-var]

    def with_queries(self, queries: int) -> Self:
        """A copy with another budget of model calls per behaviour (adaptive, white-box)."""
        if queries < 1:
            raise ValueError(f"attack {self.name} needs at least one query per behaviour")
        return self.with_params(queries=queries)


#: A transform: behaviour text, its language, a seeded generator and the parameters
#: → the conversation sent (usually one user message).
Transform = Callable[[str, str, random.Random, Mapping[str, Any]], Sequence[ChatMessage]]


@dataclass(frozen=True)
class Attack(AttackIdentity):
    """One static attack: its identity and the transform it applies.

    ``languages`` lists the behaviour languages the attack is written for
    (``"*"``: any); ``material`` is what the transform reads besides the
    behaviour (templates, tables), hashed into the digest.
    """

    name: str
    version: str
    level: Level
    family: str
    description: str
    languages: tuple[str, ...]
    transform: Transform = field(repr=False, compare=False)
    params: Mapping[str, Any] = field(default_factory=dict)
    material: Any = None

    @cached_property
    def digest(self) -> str:
        return digest_json(self.describe(material=True))

    def describe(self, *, material: bool = False) -> dict[str, Any]:
        """The JSON-ready identity, as recorded in results (``material`` only in the digest)."""
        out = self.identity()
        if material:
            out["material"] = self.material
        else:
            out["digest"] = self.digest
        return out

    def applies_to(self, language: str) -> bool:
        return "*" in self.languages or language in self.languages

    def render(
        self, text: str, language: str, *, seed: int, item_hash: str
    ) -> tuple[ChatMessage, ...]:
        """The conversation for one behaviour: deterministic given the seed."""
        rng = random.Random(attack_seed(self.digest, item_hash, seed))
        return tuple(self.transform(text, language, rng, self.params))


def attack_seed(attack_digest: str, item_hash: str, seed: int) -> int:
    """The generator seed of one (attack, behaviour): independent of order and of other items."""
    material = f"{attack_digest}\x1f{item_hash}\x1f{seed}".encode()
    return int.from_bytes(hashlib.sha256(material).digest()[:8], "big")


def user(text: str) -> tuple[ChatMessage, ...]:
    return (ChatMessage("user", text),)
