"""Running L3 adaptive and L4 white-box attacks over the journal: every call a unit,
replayed on resume.

Each behaviour's attack runs step by step (:mod:`llmcert.attacks.adaptive`): an
attacker call, then a target call, then a judgement. A call whose key the
journal already holds as answered is not made again; its answer is read back.
Since each key covers the history the call was built from, a resumed attack
walks the same path as an uninterrupted one and makes only the calls it lacked.
Behaviours run concurrently (``concurrency`` at a time); steps within one run
in order. L4 attacks (:mod:`llmcert.attacks.whitebox`) take the same path: their
generations and log-likelihood scorings are units keyed by the rendered prompt,
and their state (the best suffix) is rebuilt from the journaled scores.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llmcert._hashing import digest_json
from llmcert.attacks import (
    SCORED,
    AdaptiveAttack,
    Step,
    WhiteBoxAttack,
    attacker_messages,
    messages_digest,
    next_prompt,
)
from llmcert.attacks._plan import attack_request_key, attack_unit_key
from llmcert.attacks.whitebox import (
    initial_suffix,
    mutate,
    prefill_prefixes,
    target_string,
    with_suffix,
)
from llmcert.engine import Journal, RetryPolicy, WorkUnit, execute, unit_seed
from llmcert.errors import SpecError
from llmcert.models import ModelRef, WhiteBoxBackend, open_backend
from llmcert.models._types import (
    ChatMessage,
    GenerateRequest,
    Generation,
    GenerationSettings,
    LoglikelihoodRequest,
    Loglikelihoods,
    ModelBackend,
)

if TYPE_CHECKING:
    from llmcert.attacks import AttackJudge
    from llmcert.engine import JournalEntry
    from llmcert.engine._workunit import UnitRequest
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
    attack: AdaptiveAttack | WhiteBoxAttack
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

    async def _answer(
        self, party: Party, role: str, key: str, request: UnitRequest, item: Item, step: int
    ) -> JournalEntry | None:
        """The journal's answer to ``key``; the call is made only when the journal lacks it."""
        done = self.journal.lookup([key]).get(key)
        if done is None or done.status != "ok":
            unit = WorkUnit(key, item, item.hash, step, request)
            await execute(
                [unit], party.backend, self.journal, run_id=self.run_id, concurrency=1,
                retry=self.retry, seed=self.seed,
            )  # fmt: skip
            self.sent[role] += 1
            done = self.journal.lookup([key]).get(key)
        return done

    async def _call(
        self, party: Party, role: str, key: str, request: GenerateRequest, item: Item, step: int
    ) -> tuple[str | None, str | None]:
        done = await self._answer(party, role, key, request, item, step)
        if done is None:
            return None, "never answered"
        if done.status == "ok" and isinstance(done.output, Generation):
            return done.output.text, None
        return None, done.error or "no answer"

    def _target_unit(
        self, attack: AdaptiveAttack | WhiteBoxAttack, item_hash: str, step: int,
        sent: tuple[ChatMessage, ...] | str, kind: str = "generate",
    ) -> tuple[str, dict[str, object]]:  # fmt: skip
        """The unit key and request-key parts of one target call: ``sent`` is the
        conversation, or the rendered prompt text of a white-box call."""
        if isinstance(sent, str):
            prompt_digest = digest_json({"kind": kind, "prompt": sent})
        else:
            prompt_digest = messages_digest(sent)
        common: dict[str, object] = {
            "attack_digest": attack.digest,
            "item_hash": item_hash,
            "prompt_digest": prompt_digest,
            "settings_digest": self.target.settings.digest(),
            "seed": self.seed,
            "step": step,
        }
        key = attack_unit_key(identity_digest=self.target.identity_digest, **common)  # type: ignore[arg-type]
        return key, common

    async def _generate(
        self, attack: AdaptiveAttack | WhiteBoxAttack, item: Item, step: int,
        sent: tuple[ChatMessage, ...] | str,
    ) -> tuple[str | None, str | None]:  # fmt: skip
        key, common = self._target_unit(attack, item.hash, step, sent)
        request = GenerateRequest(
            self.target.settings,
            messages=sent if isinstance(sent, tuple) else None,
            prompt=sent if isinstance(sent, str) else None,
            seed=unit_seed(self.seed, item.hash, step),
            idempotency_key=attack_request_key(nonce=self.nonce, **common),  # type: ignore[arg-type]
        )
        return await self._call(self.target, "target", key, request, item, step)

    async def _score(
        self, attack: WhiteBoxAttack, item: Item, step: int, context: str, target: str
    ) -> tuple[float | None, str | None]:
        """log P(target | context) from the target's logits, as one journaled unit."""
        key, common = self._target_unit(attack, item.hash, step, context + "\x1f" + target,
                                        kind="loglikelihood")  # fmt: skip
        request = LoglikelihoodRequest(
            context,
            (target,),
            idempotency_key=attack_request_key(nonce=self.nonce, **common),  # type: ignore[arg-type]
        )
        done = await self._answer(self.target, "target", key, request, item, step)
        if done is not None and done.status == "ok" and isinstance(done.output, Loglikelihoods):
            return done.output.logprobs[0], None
        return None, (done.error if done is not None else None) or "no answer"

    async def run_one(
        self, attack: AdaptiveAttack | WhiteBoxAttack, item: Item, language: str
    ) -> Trace:
        if isinstance(attack, WhiteBoxAttack):
            if attack.method == "prefill":
                return await self.run_prefill(attack, item, language)
            return await self.run_suffix_search(attack, item, language)
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
            response, error = await self._generate(
                attack, item, step, (ChatMessage("user", prompt),)
            )
            verdict = self.judge.judge(item.input, response, error)
            steps.append(
                Step(step, attacker_output, prompt, response, error, verdict.outcome.value)
            )
            if steps[-1].success:
                break
        return Trace(attack, item, item_hash, language, tuple(steps))

    async def _white_box(self) -> WhiteBoxBackend:
        backend = self.target.backend
        if not isinstance(backend, WhiteBoxBackend):
            raise SpecError(
                "L4 (white-box) attacks need a local GGUF model run in this process "
                "(embedded:NAME or llamacpp:PATH): this model renders its own chat template "
                "and gives no logits to llmcert"
            )
        return backend

    async def _prefilled(
        self, attack: WhiteBoxAttack, item: Item, step: int, rendered: str, prefix: str
    ) -> Step:
        """One forced-prefix answer, judged as the user would read it: prefix + continuation."""
        response, error = await self._generate(attack, item, step, rendered + prefix)
        answer = None if response is None else prefix + response
        verdict = self.judge.judge(item.input, answer, error)
        shown = f"[user] {item.input}\n\n[assistant prefix] {prefix}"
        return Step(step, None, shown, answer, error, verdict.outcome.value, prefix)

    async def run_prefill(self, attack: WhiteBoxAttack, item: Item, language: str) -> Trace:
        backend = await self._white_box()
        rendered = await backend.chat_prompt((ChatMessage("user", item.input),))
        steps: list[Step] = []
        for step, prefix in enumerate(prefill_prefixes(attack, language)):
            steps.append(await self._prefilled(attack, item, step, rendered, prefix))
            if steps[-1].success:
                break
        return Trace(attack, item, item.hash, language, tuple(steps))

    async def run_suffix_search(self, attack: WhiteBoxAttack, item: Item, language: str) -> Trace:
        """Random coordinate search on the target's log-probability (see whitebox); each
        improvement is answered and judged. Every call, scoring or answer, is one query."""
        backend = await self._white_box()
        target = target_string(language)
        steps: list[Step] = []
        best: tuple[str, ...] | None = None
        best_score = float("-inf")
        candidate = initial_suffix(attack)
        while len(steps) < attack.queries:
            call = len(steps)
            text = with_suffix(item.input, candidate)
            rendered = await backend.chat_prompt((ChatMessage("user", text),))
            score, error = await self._score(attack, item, call, rendered, target)
            steps.append(Step(call, None, text, None, error, SCORED, None, score))
            if score is not None and (best is None or score > best_score):
                best, best_score = candidate, score
                if len(steps) < attack.queries:
                    response, error = await self._generate(attack, item, len(steps), rendered)
                    verdict = self.judge.judge(item.input, response, error)
                    steps.append(Step(len(steps), None, text, response, error,
                                      verdict.outcome.value, None, score))  # fmt: skip
                    if steps[-1].success:
                        break
            candidate = mutate(
                attack, best or candidate, item_hash=item.hash, seed=self.seed, call=call
            )
        return Trace(attack, item, item.hash, language, tuple(steps))

    async def run(
        self,
        attack: AdaptiveAttack | WhiteBoxAttack,
        behaviours: Sequence[tuple[Item, str]],
        concurrency: int,
    ) -> list[Trace]:
        gate = asyncio.Semaphore(max(1, concurrency))

        async def guarded(item: Item, language: str) -> Trace:
            async with gate:
                return await self.run_one(attack, item, language)

        return list(await asyncio.gather(*(guarded(i, lang) for i, lang in behaviours)))


async def run_adaptive(
    request: AttackRequest,
    adaptive: Sequence[AdaptiveAttack | WhiteBoxAttack],
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

    attacker: Party | None = None
    opened: ModelBackend | None = None
    try:
        if any(getattr(a, "proposer", None) == "attacker" for a in adaptive):
            backend = attacker_backend
            if backend is None:
                backend = opened = open_backend(ModelRef.parse(request.attacker))
            identity = await backend.identify()
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
