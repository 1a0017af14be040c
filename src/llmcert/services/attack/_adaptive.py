"""Running L3 adaptive attacks over the journal: every call a unit, replayed on resume.

Each behaviour's attack runs step by step (:mod:`llmcert.attacks.adaptive`): an
attacker call, then a target call, then a judgement. A call whose key the
journal already holds as answered is not made again; its answer is read back.
Since each key covers the history the call was built from, a resumed attack
walks the same path as an uninterrupted one and makes only the calls it lacked.
Behaviours run concurrently (``concurrency`` at a time); steps within one run
in order.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmcert.attacks import AdaptiveAttack, Step, attacker_messages, messages_digest, next_prompt
from llmcert.attacks._plan import attack_request_key, attack_unit_key
from llmcert.engine import Journal, RetryPolicy, WorkUnit, execute, unit_seed
from llmcert.models import ModelRef, open_backend
from llmcert.models._types import (
    ChatMessage,
    GenerateRequest,
    Generation,
    GenerationSettings,
    ModelBackend,
)

if TYPE_CHECKING:
    from llmcert.attacks import AttackJudge
    from llmcert.items import Item
    from llmcert.services.attack._request import AttackRequest


@dataclass(frozen=True)
class Party:
    """A model in the attack, with the identity its answers are keyed to."""

    backend: ModelBackend
    identity_digest: str
    settings: GenerationSettings


@dataclass(frozen=True)
class Trace:
    attack: AdaptiveAttack
    behaviour: Item
    behaviour_hash: str
    language: str
    steps: tuple[Step, ...]

    @property
    def success_at(self) -> int | None:
        """The 1-based target query that first succeeded, if any."""
        return next((s.index + 1 for s in self.steps if s.success), None)


def _attacker_key(
    attack: AdaptiveAttack, item_hash: str, target: str, attacker: str, seed: int, step: int,
    messages_hash: str, nonce: str = "",
) -> str:  # fmt: skip
    parts = ("llmcert.attacker-unit/1", nonce, attack.digest, item_hash, target, attacker,
             str(seed), str(step), messages_hash)  # fmt: skip
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class AdaptiveRunner:
    """Runs adaptive attacks for many behaviours into one journal."""

    def __init__(
        self,
        *,
        journal: Journal,
        target: Party,
        attacker: Party | None,
        judge: AttackJudge,
        seed: int,
        run_id: str,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.journal = journal
        self.target = target
        self.attacker = attacker
        self.judge = judge
        self.seed = seed
        self.run_id = run_id
        self.retry = retry
        self.nonce = journal.request_nonce(target.identity_digest)
        #: Calls made now (not read back from the journal), by party.
        self.sent = {"target": 0, "attacker": 0}

    async def _call(
        self, party: Party, role: str, key: str, request: GenerateRequest, item: Item, step: int
    ) -> tuple[str | None, str | None]:
        done = self.journal.lookup([key]).get(key)
        if done is None or done.status != "ok":
            unit = WorkUnit(key, item, item.hash, step, request)
            await execute(
                [unit], party.backend, self.journal, run_id=self.run_id, concurrency=1,
                retry=self.retry, seed=self.seed,
            )  # fmt: skip
            self.sent[role] += 1
            done = self.journal.lookup([key]).get(key)
        if done is None:
            return None, "never answered"
        if done.status == "ok" and isinstance(done.output, Generation):
            return done.output.text, None
        return None, done.error or "no answer"

    async def run_one(self, attack: AdaptiveAttack, item: Item, language: str) -> Trace:
        item_hash = item.hash
        steps: list[Step] = []
        for step in range(attack.queries):
            attacker_output: str | None = None
            if attack.proposer == "attacker" and self.attacker is not None:
                messages = attacker_messages(item.input, language, steps)
                mdigest = messages_digest(messages)
                key = _attacker_key(attack, item_hash, self.target.identity_digest,
                                    self.attacker.identity_digest, self.seed, step, mdigest)  # fmt: skip
                request = GenerateRequest(
                    self.attacker.settings,
                    messages=messages,
                    seed=unit_seed(self.seed, item_hash, step),
                    idempotency_key=_attacker_key(
                        attack, item_hash, self.target.identity_digest, "", self.seed, step,
                        mdigest, self.nonce,
                    ),
                )  # fmt: skip
                attacker_output, _ = await self._call(
                    self.attacker, "attacker", key, request, item, step
                )
            prompt = next_prompt(
                attack, item.input, language, item_hash=item_hash, seed=self.seed, step=step,
                attacker_output=attacker_output,
            )  # fmt: skip
            sent = (ChatMessage("user", prompt),)
            common = {
                "attack_digest": attack.digest,
                "item_hash": item_hash,
                "prompt_digest": messages_digest(sent),
                "settings_digest": self.target.settings.digest(),
                "seed": self.seed,
                "step": step,
            }
            request = GenerateRequest(
                self.target.settings,
                messages=sent,
                seed=unit_seed(self.seed, item_hash, step),
                idempotency_key=attack_request_key(nonce=self.nonce, **common),  # type: ignore[arg-type]
            )
            key = attack_unit_key(identity_digest=self.target.identity_digest, **common)  # type: ignore[arg-type]
            response, error = await self._call(self.target, "target", key, request, item, step)
            verdict = self.judge.judge(item.input, response, error)
            steps.append(
                Step(step, attacker_output, prompt, response, error, verdict.outcome.value)
            )
            if steps[-1].success:
                break
        return Trace(attack, item, item_hash, language, tuple(steps))

    async def run(
        self, attack: AdaptiveAttack, behaviours: Sequence[tuple[Item, str]], concurrency: int
    ) -> list[Trace]:
        gate = asyncio.Semaphore(max(1, concurrency))

        async def guarded(item: Item, language: str) -> Trace:
            async with gate:
                return await self.run_one(attack, item, language)

        return list(await asyncio.gather(*(guarded(i, lang) for i, lang in behaviours)))


async def run_adaptive(
    request: AttackRequest,
    adaptive: Sequence[AdaptiveAttack],
    behaviours: Sequence[Item],
    target: ModelBackend,
    target_digest: str,
    settings: GenerationSettings,
    judge: AttackJudge,
    journal: Journal,
    run_id: str,
    retry: RetryPolicy | None,
    attacker_backend: ModelBackend | None,
) -> tuple[list[Trace], dict[str, int]]:
    """L3: each adaptive attack on each behaviour, every call journaled (see AdaptiveRunner)."""
    if not adaptive:
        return [], {}
    from llmcert.attacks import behaviour_language
    from llmcert.models._types import GenerationSettings
    from llmcert.services.attack._adaptive import AdaptiveRunner, Party
    from llmcert.services.evaluate import _identify

    attacker: Party | None = None
    opened: ModelBackend | None = None
    try:
        if any(a.proposer == "attacker" for a in adaptive):
            backend = attacker_backend
            if backend is None:
                backend = opened = open_backend(ModelRef.parse(request.attacker))
            identity = await _identify(backend, request.seed)
            attacker_settings = GenerationSettings(max_tokens=256, temperature=0.0)
            attacker = Party(backend, identity.digest, attacker_settings)
        runner = AdaptiveRunner(
            journal=journal,
            target=Party(target, target_digest, settings),
            attacker=attacker,
            judge=judge,
            seed=request.seed,
            run_id=run_id,
            retry=retry,
        )
        pairs = [(b, behaviour_language(b)) for b in behaviours]
        traces: list[Trace] = []
        for attack in adaptive:
            traces += await runner.run(attack, pairs, request.concurrency)
        return traces, dict(runner.sent)
    finally:
        if opened is not None:
            await opened.aclose()
