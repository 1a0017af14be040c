"""Prompt-prefix reuse that cannot change results.

llama-cpp-python reuses the longest cached prefix of the previous prompt and
decodes the rest as one batch. The batch layout changes the floating-point
result, so an answer would depend on which request came before it.

Here every prompt is decoded in a layout that depends on that prompt alone: at
most two chunks, split at the *anchor*, the position where the final user
message's text begins (:func:`find_anchor`). Everything before the anchor (the
chat template's preamble, the system prompt, few-shot turns) is what the items
of a suite share; everything after is the item's own. The cache of the first
chunk is kept, and reused only by a next prompt with the same anchor and the
same tokens before it, so it is bit-for-bit the state a fresh decode of that
prompt would build. That costs the same number of decode calls as
llama-cpp-python's own reuse. A prompt without an anchor (a completion prompt, or
a message whose tokens cannot be found) is decoded whole, from an empty cache.
Chunks longer than ``MAX_CHUNK`` are split at fixed offsets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

#: No decode call is longer than llama.cpp's default batch.
MAX_CHUNK = 512


def find_anchor(tokens: Sequence[int], text_tokens: Sequence[int]) -> int:
    """Where ``text_tokens`` (the last message, tokenised alone) begins in ``tokens``; 0 if absent.

    The first token of a text tokenised alone may merge differently with what
    precedes it in context, so the search uses the rest and steps back one.
    """
    needle = list(text_tokens[1:]) if len(text_tokens) > 1 else list(text_tokens)
    if not needle or len(needle) > len(tokens):
        return 0
    first = needle[0]
    for i in range(len(tokens) - len(needle), 0, -1):
        if tokens[i] == first and list(tokens[i : i + len(needle)]) == needle:
            return i - 1 if len(text_tokens) > 1 else i
    return 0


def chunks(start: int, anchor: int, end: int) -> list[tuple[int, int]]:
    """The canonical decode calls for positions ``[start, end)`` (``start`` is 0 or the anchor)."""
    out: list[tuple[int, int]] = []
    for lo, hi in ((start, anchor), (max(start, anchor), end)):
        pos = lo
        while pos < hi:
            out.append((pos, min(pos + MAX_CHUNK, hi)))
            pos += MAX_CHUNK
    return out


class AlignedPrefix:
    """Wraps ``Llama.eval`` so prompt decodes follow the canonical two-chunk layout.

    ``prepare(anchor_text)`` is called before each request: it limits what
    llama-cpp-python may reuse to the canonical first chunk of the previous
    prompt, and arms the wrapper for the request's first decode (the prompt).
    Later decodes (one generated token at a time) pass through untouched.
    """

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self._eval: Callable[[Sequence[int]], None] = llm.eval
        self._valid = 0  # cached leading tokens decoded as a canonical first chunk
        self._anchor_tokens: list[int] = []
        self._armed = False
        llm.eval = self._aligned_eval

    def prepare(self, anchor_text: str | None) -> None:
        llm = self._llm
        llm.n_tokens = min(int(llm.n_tokens), self._valid)
        # The last logits belong to the previous request: never sample from them,
        # even when the new prompt is exactly the cached prefix.
        if hasattr(llm, "_requires_eval"):
            llm._requires_eval = True
        self._anchor_tokens = (
            [int(t) for t in llm.tokenize(anchor_text.encode("utf-8"), add_bos=False)]
            if anchor_text
            else []
        )
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
        seq = [int(t) for t in llm.input_ids[:reused]] + [int(t) for t in tokens]
        anchor = find_anchor(seq, self._anchor_tokens) if self._anchor_tokens else 0
        # Reuse only a first chunk that ended exactly at this prompt's anchor.
        start = anchor if anchor > 0 and reused == anchor == self._valid else 0
        llm.n_tokens = start
        self._valid = 0
        for lo, hi in chunks(start, anchor, len(seq)):
            self._eval(seq[lo:hi])
        self._valid = anchor
