"""WorkUnit: one model call, keyed by everything that determines its answer.

The key is the unit of caching, exactly-once execution and resume. It covers the
suite digest, the item hash, the model identity, the generation settings, the
seed and the repeat index, so two repeats are two units and a changed model or
setting never reuses an old answer.

The request a unit sends does not depend on the model's identity, so it can go
out while the identity is still being established. It carries a *request key*
(sent as ``Idempotency-Key``): the same content under the journal's nonce for
that model (see :meth:`~llmcert.engine.Journal.request_nonce`), so a resent
request is recognisable to an endpoint that honours the header.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from llmcert.items import Item
from llmcert.models._types import (
    ChatMessage,
    GenerateRequest,
    LoglikelihoodRequest,
    ModelIdentity,
)
from llmcert.scoring._types import RequestKind
from llmcert.suites import Suite

UnitRequest = GenerateRequest | LoglikelihoodRequest


def _key(tag: str, *parts: str) -> str:
    return hashlib.sha256("\x1f".join((tag, *parts)).encode()).hexdigest()


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
    return _key(
        "llmcert.workunit/1",
        suite_digest,
        item_hash,
        identity_digest,
        settings_digest,
        str(seed),
        str(repeat),
        kind,
    )


def request_key(
    *,
    nonce: str,
    suite_digest: str,
    item_hash: str,
    settings_digest: str,
    seed: int,
    repeat: int,
    kind: RequestKind,
) -> str:
    return _key(
        "llmcert.request/1",
        nonce,
        suite_digest,
        item_hash,
        settings_digest,
        str(seed),
        str(repeat),
        kind,
    )


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

    @property
    def request_key(self) -> str | None:
        return self.request.idempotency_key


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """An item's request content, which does not depend on the model."""

    item: Item
    item_hash: str
    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    continuations: tuple[str, ...] = ()


def render_prompts(
    suite: Suite, *, kind: RequestKind, items: Sequence[Item] | None = None
) -> list[RenderedPrompt]:
    """Render every item's prompt once; the costly half of planning, done before identity."""
    renderer = suite.renderer
    chat = suite.spec.prompt.kind == "chat"
    hashes = dict(zip((it.id for it in suite.items), suite.item_hashes, strict=True))
    out: list[RenderedPrompt] = []
    for item in suite.items if items is None else items:
        item_hash = hashes[item.id]
        if kind == "loglikelihood":
            rendered = RenderedPrompt(
                item,
                item_hash,
                prompt=renderer.completion(item),
                continuations=renderer.continuations(item),
            )
        elif chat:
            rendered = RenderedPrompt(item, item_hash, messages=renderer.messages(item))
        else:
            rendered = RenderedPrompt(item, item_hash, prompt=renderer.completion(item))
        out.append(rendered)
    return out


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    """A unit's request before the model is known; keyed by :func:`request_key`."""

    item: Item
    item_hash: str
    repeat: int
    request: UnitRequest

    @property
    def request_key(self) -> str:
        key = self.request.idempotency_key
        assert key is not None
        return key


def plan_requests(
    suite: Suite,
    *,
    kind: RequestKind,
    seed: int,
    repeats: int,
    prompts: Sequence[RenderedPrompt],
    nonce: str = "",
    limit: int | None = None,
) -> list[PlannedRequest]:
    """Items × repeats as requests, in run order; at most ``limit`` of them."""
    settings = suite.spec.generation
    settings_digest = settings.digest()
    planned: list[PlannedRequest] = []
    for rp in prompts:
        for repeat in range(repeats):
            if limit is not None and len(planned) >= limit:
                return planned
            key = request_key(
                nonce=nonce,
                suite_digest=suite.digest,
                item_hash=rp.item_hash,
                settings_digest=settings_digest,
                seed=seed,
                repeat=repeat,
                kind=kind,
            )
            request: UnitRequest
            if kind == "loglikelihood":
                assert rp.prompt is not None
                request = LoglikelihoodRequest(rp.prompt, rp.continuations, idempotency_key=key)
            else:
                request = GenerateRequest(
                    settings,
                    messages=rp.messages,
                    prompt=rp.prompt,
                    seed=unit_seed(seed, rp.item_hash, repeat),
                    idempotency_key=key,
                )
            planned.append(PlannedRequest(rp.item, rp.item_hash, repeat, request))
    return planned


def plan_units(
    suite: Suite,
    identity: ModelIdentity,
    *,
    kind: RequestKind,
    seed: int,
    repeats: int,
    items: Sequence[Item] | None = None,
    prompts: Sequence[RenderedPrompt] | None = None,
    nonce: str = "",
) -> list[WorkUnit]:
    """Expand items × repeats into work units: requests keyed to the model's identity."""
    if prompts is None:
        prompts = render_prompts(suite, kind=kind, items=items)
    settings_digest = suite.spec.generation.digest()
    identity_digest = identity.digest
    return [
        WorkUnit(
            unit_key(
                suite_digest=suite.digest,
                item_hash=p.item_hash,
                identity_digest=identity_digest,
                settings_digest=settings_digest,
                seed=seed,
                repeat=p.repeat,
                kind=kind,
            ),
            p.item,
            p.item_hash,
            p.repeat,
            p.request,
        )
        for p in plan_requests(
            suite, kind=kind, seed=seed, repeats=repeats, prompts=prompts, nonce=nonce
        )
    ]
