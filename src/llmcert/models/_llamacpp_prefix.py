"""Prompt-prefix reuse that cannot change results.

llama-cpp-python reuses the longest cached prefix of the previous prompt and
decodes the rest as one batch. The batch layout changes the floating-point
result, so an answer would depend on which request came before it. Re-decoding
every prompt from scratch fixes that but costs ~40% on short chat prompts,
whose chat-template preamble is shared.

Here every prompt is decoded in chunks whose boundaries sit at fixed absolute
positions (:func:`boundaries`). The KV cache of the first *k* chunks is then a
function of those tokens only, so keeping it for the next prompt that starts
with the same tokens gives bit-for-bit the state a fresh decode would build.
Boundaries are dense near the start (where templates share preambles) and
sparse later (where large batches are faster).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def boundary_at_or_below(n: int) -> int:
    """The largest chunk boundary ``<= n``."""
    if n < 64:
        return n - n % 8
    if n < 512:
        return n - n % 64
    return n - n % 256


def next_boundary(n: int) -> int:
    """The smallest chunk boundary ``> n``."""
    step = 8 if n < 64 else 64 if n < 512 else 256
    return n - n % step + step


def boundaries(start: int, end: int) -> list[tuple[int, int]]:
    """Split positions ``[start, end)`` (``start`` on a boundary) into canonical chunks."""
    chunks = []
    pos = start
    while pos < end:
        stop = min(next_boundary(pos), end)
        chunks.append((pos, stop))
        pos = stop
    return chunks


class AlignedPrefix:
    """Wraps ``Llama.eval`` so prompt decodes follow the canonical chunk layout.

    ``prepare()`` is called before each request: it limits what llama-cpp-python
    may reuse to the part of the cache known to be canonical, and arms the wrapper
    for the request's first decode (the prompt). Later decodes (one generated
    token at a time) pass through untouched and are never reused.
    """

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._eval: Callable[[Sequence[int]], None] = llm.eval
        self._valid = 0  # leading cached tokens in canonical layout
        self._armed = False
        llm.eval = self._aligned_eval

    def prepare(self) -> None:
        llm = self._llm
        llm.n_tokens = min(int(llm.n_tokens), self._valid)
        # The last logits belong to the previous request: never sample from them,
        # even when the new prompt is exactly the cached prefix.
        if hasattr(llm, "_requires_eval"):
            llm._requires_eval = True
        self._armed = True

    def invalidate(self) -> None:
        """Forget the cache (after anything else decoded into the context)."""
        self._valid = 0
        self._armed = False
        self._llm.reset()

    def disarm(self) -> None:
        self._armed = False

    def _aligned_eval(self, tokens: Sequence[int]) -> None:
        if not self._armed:
            self._eval(tokens)
            return
        self._armed = False
        llm = self._llm
        reused = int(llm.n_tokens)
        start = boundary_at_or_below(reused)
        seq = [int(t) for t in llm.input_ids[start:reused]] + [int(t) for t in tokens]
        llm.n_tokens = start
        self._valid = start
        end = start + len(seq)
        for lo, hi in boundaries(start, end):
            self._eval(seq[lo - start : hi - start])
        self._valid = boundary_at_or_below(end)
