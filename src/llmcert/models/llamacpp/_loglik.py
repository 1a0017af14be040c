"""Log-likelihoods computed in-process from llama.cpp logits.

Why not ``create_completion(echo=True, logprobs=k)``: in llama-cpp-python 0.3.x
that path shifts every prompt log-probability by one position for models that add
no start token (SmolLM2), and it sorts the whole vocabulary at every prompt token,
which makes a 185-token request take seconds to a minute. Here the sequence is
decoded once with logits requested only at the positions that predict a
continuation token, and each of those rows gets one log-softmax.

Every continuation is decoded from an empty KV cache in a single pass, so a score
never depends on what was evaluated before it (reusing a cached prefix changes the
batch layout, and with it the floating-point result).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from llmcert.errors import ModelError, RequestRejected


@dataclass(frozen=True, slots=True)
class ContinuationScore:
    logprob: float
    n_tokens: int
    is_greedy: bool


def split_tokens(llm: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Tokenise as lm-eval does: the whole text once, then cut at the context's length.

    Tokenising the two parts separately would invent a token boundary the model
    never sees (e.g. " Paris" versus " " + "Paris"); trailing whitespace of the
    context moves to the continuation for the same reason. Special-token text is
    parsed, as ``create_completion`` does, so rendered chat templates keep their markers.
    """
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    whole = list(llm.tokenize((context + continuation).encode("utf-8"), add_bos=True, special=True))
    n_ctx = len(llm.tokenize(context.encode("utf-8"), add_bos=True, special=True))
    if continuation and n_ctx >= len(whole):
        # The context's last token swallowed the whole continuation: score from
        # one token earlier rather than return an empty continuation.
        n_ctx = len(whole) - 1
    prefix, cont = whole[:n_ctx], whole[n_ctx:]
    if not prefix:
        # Nothing to condition on (empty context, no BOS added): condition on
        # BOS if the vocabulary has one, else end-of-text, as lm-eval does.
        prefix = [int(llm.token_bos()) if int(llm.token_bos()) >= 0 else int(llm.token_eos())]
    return prefix, cont


def log_softmax_at(row: npt.NDArray[np.float32], target: int) -> tuple[float, bool]:
    """log p(target) from one logits row, and whether target is the row's argmax."""
    x = row.astype(np.float64, copy=False)
    peak = float(x.max())
    lse = peak + float(np.log(np.exp(x - peak).sum()))
    return float(x[target]) - lse, bool(x[target] >= peak)


def _clear_memory(llm: Any, llama_cpp: Any) -> None:
    mem = llama_cpp.llama_get_memory(llm.ctx)
    if mem is not None:
        llama_cpp.llama_memory_clear(mem, True)
    # The high-level object tracks what it believes is cached; forget it too, so
    # its next generate() cannot reuse a prefix that is no longer there.
    llm.reset()


def score_continuation(
    llm: Any, llama_cpp: Any, prefix: list[int], cont: list[int]
) -> ContinuationScore:
    """Sum of log p(cont[i] | prefix + cont[:i]) from a fresh decode of the whole sequence."""
    if not cont:
        return ContinuationScore(0.0, 0, True)
    tokens = prefix + cont
    n_ctx = int(llm.n_ctx())
    if len(tokens) > n_ctx:
        raise RequestRejected(
            f"context plus continuation is {len(tokens)} tokens, more than the context "
            f"window of {n_ctx} tokens"
        )
    first_needed = len(prefix) - 1  # the row at position p predicts token p + 1
    n_vocab = int(llm.n_vocab())
    n_batch = int(llm.n_batch)
    _clear_memory(llm, llama_cpp)
    batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
    total = 0.0
    greedy = True
    try:
        for start in range(0, len(tokens), n_batch):
            chunk = tokens[start : start + n_batch]
            batch.n_tokens = len(chunk)
            for i, tok in enumerate(chunk):
                pos = start + i
                batch.token[i] = tok
                batch.pos[i] = pos
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 1 if first_needed <= pos < len(tokens) - 1 else 0
            rc = int(llama_cpp.llama_decode(llm.ctx, batch))
            if rc != 0:
                raise ModelError(f"llama_decode failed with code {rc}")
            for i in range(len(chunk)):
                pos = start + i
                if not first_needed <= pos < len(tokens) - 1:
                    continue
                ptr = llama_cpp.llama_get_logits_ith(llm.ctx, i)
                if not ptr:
                    raise ModelError(f"llama.cpp returned no logits for position {pos}")
                row = np.ctypeslib.as_array(
                    ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(n_vocab,)
                )
                lp, top = log_softmax_at(row, tokens[pos + 1])
                total += lp
                greedy = greedy and top
    finally:
        llama_cpp.llama_batch_free(batch)
        _clear_memory(llm, llama_cpp)
    return ContinuationScore(total, len(cont), greedy)
