"""Deterministic OpenAI-shaped answers for the fake server.

Everything here is a pure function of the request body (plus a counter for ids), so tests
can predict each answer and a rerun produces the same text.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from collections.abc import Mapping
from typing import Any, Literal, get_args

Policy = Literal["echo", "reverse", "answer", "hash", "vulnerable"]
POLICIES: tuple[str, ...] = get_args(Policy)

#: Faults of real servers in how they answer, not in whether they answer:
#: ``unlimited-zero-max-tokens`` reads ``max_tokens: 0`` as "no limit" (llama-cpp-python's
#: server); ``shifted-echo-logprobs`` gives each echoed prompt token the log-probability of the
#: next position (the same server, for models without a start token); ``not-greedy`` decodes
#: as with a repeat penalty, so a generated token is not the most likely one it lists;
#: ``prompt-cache`` answers a prompt that shares only part of the previous request's
#: prompt as a server reusing that cached prefix can (llama-cpp-python's, for Gemma): its
#: log-probabilities move by ``CACHE_DRIFT`` and its generated text changes.
Quirk = Literal["unlimited-zero-max-tokens", "shifted-echo-logprobs", "not-greedy", "prompt-cache"]
QUIRKS: tuple[str, ...] = get_args(Quirk)

# Whitespace tokenisation that keeps the leading whitespace on each token, so the tokens
# join back to the exact text and ``text_offset`` lines up with the characters.
_TOKEN_RE = re.compile(r"\s*\S+|\s+")


class RequestInvalid(Exception):
    """The request body is not something the OpenAI API would accept (answered with 400)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def error_body(
    message: str, etype: str, code: str | None = None, param: str | None = None
) -> bytes:
    """The OpenAI error envelope, so clients exercise their real error parsing."""
    payload = {"error": {"message": message, "type": etype, "param": param, "code": code}}
    return json.dumps(payload).encode()


def tokenize(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def token_logprob(prev: str, token: str) -> float:
    """A stable pseudo log-probability in (-8.05, -0.05] for ``token`` after ``prev``."""
    digest = hashlib.sha256(f"{prev}\x1f{token}".encode()).digest()
    return -round(0.05 + int.from_bytes(digest[:4], "big") / 2**32 * 8.0, 6)


CACHE_DRIFT = 0.02


def legacy_logprobs(
    prompt_tokens: list[str],
    completion_tokens: list[str],
    top_n: int,
    include_prompt: bool,
    quirks: frozenset[str] = frozenset(),
    drift: float = 0.0,
) -> dict[str, Any]:
    """OpenAI-legacy ``logprobs`` for /v1/completions.

    The very first token has no context, so its log-probability is ``None`` (as the real API
    reports with ``echo``). The real token is always the most likely entry of ``top_logprobs``,
    unless the ``not-greedy`` quirk ranks another generated one above it.
    """
    all_tokens = prompt_tokens + completion_tokens
    start = 0 if include_prompt else len(prompt_tokens)
    offset = sum(len(t) for t in all_tokens[:start])
    tokens: list[str] = []
    lps: list[float | None] = []
    tops: list[dict[str, float] | None] = []
    offsets: list[int] = []
    for i in range(start, len(all_tokens)):
        tok = all_tokens[i]
        tokens.append(tok)
        offsets.append(offset)
        offset += len(tok)
        if i == 0:
            lps.append(None)
            tops.append(None)
            continue
        lp = round(token_logprob(all_tokens[i - 1], tok) + drift, 6)
        if "shifted-echo-logprobs" in quirks and i < len(prompt_tokens):
            # The next position's distribution, read at this token.
            lp = token_logprob(tok, all_tokens[i + 1] if i + 1 < len(all_tokens) else tok)
        lps.append(lp)
        top = {tok: lp}
        for j in range(1, top_n):
            top[f"{tok}\u2020{j}"] = round(lp - j, 6)
        if "not-greedy" in quirks and i >= len(prompt_tokens):
            top[f"{tok}\u2020penalised"] = round(lp + 0.5, 6)
        tops.append(top)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets}


class Responder:
    """Builds the JSON answers; one per server so ids count per server."""

    def __init__(
        self,
        model: str,
        policy: Policy,
        answers: Mapping[str, str],
        default_answer: str,
        quirks: frozenset[str] = frozenset(),
    ) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown answer policy {policy!r}; choose from {POLICIES}")
        unknown = set(quirks) - set(QUIRKS)
        if unknown:
            raise ValueError(f"unknown quirk(s) {sorted(unknown)}; choose from {QUIRKS}")
        self.quirks = frozenset(quirks)
        self.model = model
        self.policy = policy
        self.answers = dict(answers)
        self.default_answer = default_answer
        self._ids = itertools.count(1)
        self._previous: str | None = None  # the last prompt, for the ``prompt-cache`` quirk

    def _warm(self, prompt: str) -> bool:
        """With ``prompt-cache``: does only part of the previous prompt start this one?"""
        previous, self._previous = self._previous, prompt
        if "prompt-cache" not in self.quirks or previous is None or previous == prompt:
            return False
        return tokenize(previous)[0] == tokenize(prompt)[0] if previous and prompt else False

    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "llmcert"}],
        }

    # -- answer text -------------------------------------------------------------------

    def _text(self, key_text: str, hash_text: str, body: Mapping[str, Any], index: int) -> str:
        policy = self.policy
        if policy == "echo":
            return key_text
        if policy == "reverse":
            return key_text[::-1]
        if policy == "answer":
            return self.answers.get(key_text, self.default_answer)
        if policy == "vulnerable":
            # A model broken by one attack: ``answers`` maps a trigger (text the attack's
            # prompt contains) to the answer it gives; every other prompt is declined.
            return next(
                (a for trigger, a in self.answers.items() if trigger in key_text),
                self.default_answer,
            )
        material = f"{hash_text}\x00{body.get('seed')!r}\x00{body.get('temperature')!r}\x00{index}"
        return "h" + hashlib.sha256(material.encode()).hexdigest()[:15]

    # -- endpoints ---------------------------------------------------------------------

    def chat(self, body: Mapping[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestInvalid("'messages' must be a non-empty array", "messages")
        texts: list[tuple[str, str]] = []
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
                raise RequestInvalid(f"messages[{i}] must be an object with a 'role'", "messages")
            texts.append((msg["role"], _content_text(msg.get("content"), i)))
        last_user = next((t for role, t in reversed(texts) if role == "user"), texts[-1][1])
        max_tokens, stop, n = _common_options(body, "max_completion_tokens")
        hash_text = ""
        if self.policy == "hash":  # the only policy that reads the whole conversation
            hash_text = json.dumps(messages, sort_keys=True, ensure_ascii=False)
        choices = []
        completion_tokens = 0
        warm = self._warm(last_user)
        for index in range(n):
            raw = self._text(last_user, hash_text, body, index)
            text, finish = _shape(raw.upper() if warm else raw, max_tokens, stop)
            completion_tokens += len(text.split())
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            )
        prompt_tokens = sum(len(t.split()) for _, t in texts)
        return {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": "fp_llmcert_fake",
            "choices": choices,
            "usage": _usage(prompt_tokens, completion_tokens),
        }

    def completion(self, body: Mapping[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if (
            not isinstance(prompts, list)
            or not prompts
            or not all(isinstance(p, str) for p in prompts)
        ):
            raise RequestInvalid(
                "'prompt' must be a string or a non-empty array of strings", "prompt"
            )
        max_tokens, stop, n = _common_options(body, None)
        if max_tokens == 0 and "unlimited-zero-max-tokens" in self.quirks:
            max_tokens = None
        echo = body.get("echo", False)
        if not isinstance(echo, bool):
            raise RequestInvalid("'echo' must be a boolean", "echo")
        top_n = body.get("logprobs")
        if top_n is not None and (not _is_int(top_n) or not 0 <= top_n <= 20):
            raise RequestInvalid("'logprobs' must be an integer between 0 and 20", "logprobs")
        choices = []
        prompt_tokens = completion_tokens = 0
        for p_index, text_in in enumerate(prompts):
            prompt_tokens += len(text_in.split())
            warm = self._warm(text_in)
            for c_index in range(n):
                raw = self._text(text_in, text_in, body, c_index)
                raw = raw.upper() if warm else raw
                out, finish = _shape(raw, max_tokens, stop)
                completion_tokens += len(out.split())
                logprobs = None
                if top_n is not None:
                    logprobs = legacy_logprobs(
                        tokenize(text_in),
                        tokenize(out),
                        top_n,
                        echo,
                        self.quirks,
                        CACHE_DRIFT if warm else 0.0,
                    )
                choices.append(
                    {
                        "text": text_in + out if echo else out,
                        "index": p_index * n + c_index,
                        "logprobs": logprobs,
                        "finish_reason": finish,
                    }
                )
        return {
            "id": f"cmpl-fake{next(self._ids):06d}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": "fp_llmcert_fake",
            "choices": choices,
            "usage": _usage(prompt_tokens, completion_tokens),
        }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _content_text(content: object, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict):
                raise RequestInvalid(f"messages[{index}].content parts must be objects", "messages")
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    raise RequestInvalid(f"messages[{index}].content must be a string or an array", "messages")


def _common_options(
    body: Mapping[str, Any], alt_max: str | None
) -> tuple[int | None, list[str], int]:
    if body.get("stream"):
        raise RequestInvalid("streaming is not supported by this server", "stream")
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise RequestInvalid(f"'{name}' must be a number", name)
    max_tokens = body.get("max_tokens")
    if max_tokens is None and alt_max is not None:
        max_tokens = body.get(alt_max)
    if max_tokens is not None and (not _is_int(max_tokens) or max_tokens < 0):
        raise RequestInvalid("'max_tokens' must be a non-negative integer", "max_tokens")
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if stop is not None else []
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise RequestInvalid("'stop' must be a string or an array of strings", "stop")
    n = body.get("n", 1)
    if n is None:
        n = 1
    if not _is_int(n) or not 1 <= n <= 128:
        raise RequestInvalid("'n' must be an integer between 1 and 128", "n")
    return max_tokens, stops, n


def _shape(text: str, max_tokens: int | None, stops: list[str]) -> tuple[str, str]:
    """Apply stop sequences, then the token budget, as a real decoder would end a turn."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    if cut >= 0:
        text = text[:cut]
    if max_tokens is not None:
        words = [t for t in tokenize(text) if not t.isspace()]
        if len(words) > max_tokens:
            return "".join(words[:max_tokens]), "length"
    return text, "stop"
