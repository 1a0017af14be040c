"""WorkUnit: one model call, keyed by everything that determines its answer.

The key is the unit of caching, exactly-once execution and resume. It covers the
suite digest, the item hash, the model identity, the generation settings, the
seed and the repeat index, so two repeats are two units and a changed model or
setting never reuses an old answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from llmcert.items import Item
from llmcert.models._types import GenerateRequest, LoglikelihoodRequest, ModelIdentity
from llmcert.scoring._types import RequestKind
from llmcert.suites import Suite

UnitRequest = GenerateRequest | LoglikelihoodRequest


def unit_key(
    *,
    suite_digest: str,
    item_hash: str,
    identity_digest: str,
    settings_digest: str,
    seed: int,
    repeat: int,
    kind: RequestKind,
) -> str:
    material = "\x1f".join(
        (
            "llmcert.workunit/1",
            suite_digest,
            item_hash,
            identity_digest,
            settings_digest,
            str(seed),
            str(repeat),
            kind,
        )
    )
    return hashlib.sha256(material.encode()).hexdigest()


def unit_seed(seed: int, item_hash: str, repeat: int) -> int:
    """A per-unit sampling seed: repeats differ, yet every run draws the same ones."""
    h = hashlib.sha256(f"{seed}\x1f{item_hash}\x1f{repeat}".encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class WorkUnit:
    key: str
    item: Item
    item_hash: str
    repeat: int
    request: UnitRequest

    @property
    def kind(self) -> RequestKind:
        return "generate" if isinstance(self.request, GenerateRequest) else "loglikelihood"


def plan_units(
    suite: Suite,
    identity: ModelIdentity,
    *,
    kind: RequestKind,
    seed: int,
    repeats: int,
    items: Sequence[Item] | None = None,
) -> list[WorkUnit]:
    """Expand items × repeats into keyed work units with their rendered requests."""
    renderer = suite.renderer
    settings = suite.spec.generation
    settings_digest = settings.digest()
    identity_digest = identity.digest
    chat = suite.spec.prompt.kind == "chat"
    chosen = suite.items if items is None else items
    hashes = dict(zip((it.id for it in suite.items), suite.item_hashes, strict=True))
    units: list[WorkUnit] = []
    for item in chosen:
        item_hash = hashes[item.id]
        if kind == "loglikelihood":
            context, continuations = renderer.completion(item), renderer.continuations(item)
        elif chat:
            messages = renderer.messages(item)
        else:
            prompt = renderer.completion(item)
        for repeat in range(repeats):
            key = unit_key(
                suite_digest=suite.digest,
                item_hash=item_hash,
                identity_digest=identity_digest,
                settings_digest=settings_digest,
                seed=seed,
                repeat=repeat,
                kind=kind,
            )
            request: UnitRequest
            if kind == "loglikelihood":
                request = LoglikelihoodRequest(context, continuations, idempotency_key=key)
            elif chat:
                request = GenerateRequest(
                    settings,
                    messages=messages,
                    seed=unit_seed(seed, item_hash, repeat),
                    idempotency_key=key,
                )
            else:
                request = GenerateRequest(
                    settings,
                    prompt=prompt,
                    seed=unit_seed(seed, item_hash, repeat),
                    idempotency_key=key,
                )
            units.append(WorkUnit(key, item, item_hash, repeat, request))
    return units
