"""The SSE event reader: the shortcut for plain token events agrees with a full parse."""

from __future__ import annotations

import json

import pytest

from llmcert.perf import OpenAIStreamTarget, RequestTrace
from llmcert.perf._targets import TokenShape, plain_token

EVENTS = [
    # llmcert's fake server (compact JSON)
    b'{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}',
    b'{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}',
    b'{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}',
    b'{"id":"c","object":"text_completion","choices":[{"index":0,"text":" b","finish_reason":null}]}',
    # llama-cpp-python's server (spaces after separators)
    b'{"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant"}, "logprobs": null, "finish_reason": null}]}',
    b'{"id": "c", "choices": [{"index": 0, "delta": {"content": "H"}, "logprobs": null, "finish_reason": null}]}',
    b'{"id": "c", "choices": [{"index": 0, "delta": {"content": ""}, "logprobs": null, "finish_reason": null}]}',
    b'{"id": "c", "choices": [{"index": 0, "delta": {"content": null}, "finish_reason": null}]}',
    # vLLM-style chunk with usage null and a text that itself holds quotes and keys
    b'{"id":"c","choices":[{"index":0,"delta":{"content":"say \\"content\\":\\"\\""},"finish_reason":null}],"usage":null}',
    b'{"id":"c","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null},{"index":1,"delta":{"content":""},"finish_reason":null}]}',
]


def _full(payload: bytes) -> tuple[int, str | None, int | None]:
    """The reference: what a full JSON parse says of the event."""
    event = json.loads(payload)
    choices = event.get("choices") or ()
    has_text = any(
        (c.get("delta") or {}).get("content") if "delta" in c else c.get("text") for c in choices
    )
    finish = choices[0].get("finish_reason") if choices else None
    usage = event.get("usage")
    return int(bool(has_text)), finish, (usage or {}).get("completion_tokens")


@pytest.mark.parametrize("payload", EVENTS)
def test_the_reader_agrees_with_a_full_parse(payload: bytes) -> None:
    trace = RequestTrace(0, 0.0, 8)
    assert OpenAIStreamTarget._event(b"data: " + payload, trace, 1.0) is None
    has_text, finish, tokens = _full(payload)
    assert len(trace.token_times) == has_text
    assert trace.finish_reason == finish
    assert trace.output_tokens == tokens
    shortcut = plain_token(payload)
    if shortcut is not None:
        assert shortcut == bool(has_text)


def test_done_and_malformed_events() -> None:
    trace = RequestTrace(0, 0.0, 8)
    assert OpenAIStreamTarget._event(b"data: [DONE]", trace, 1.0) == ""
    assert OpenAIStreamTarget._event(b": keep-alive", trace, 1.0) is None
    assert "malformed" in (OpenAIStreamTarget._event(b"data: {nope", trace, 1.0) or "")


def _same_frame(payload: bytes, text: bytes) -> bytes:
    for key in (b'"content":"', b'"content": "', b'"text":"', b'"text": "'):
        at = payload.find(key)
        if at >= 0:
            start = at + len(key) - 1
            end = payload.index(b'"', start + 1)
            return payload[:start] + text + payload[end + 1 :]
    raise AssertionError("no text in the event")


@pytest.mark.parametrize("learnt", [e for e in EVENTS if plain_token(e)])
@pytest.mark.parametrize("payload", EVENTS)
def test_a_learnt_token_frame_agrees_with_a_full_parse(learnt: bytes, payload: bytes) -> None:
    shape = TokenShape.learn(b"data: " + learnt)
    assert shape is not None
    seen = shape.text(b"data: " + payload)
    if seen is not None:  # recognised without a parse: it must read as the parse does
        assert seen == bool(_full(payload)[0])
    # The learnt frame recognises its own kind with any text, escapes included, or none.
    for text, has_text in ((b'"x \\"y\\" \\\\"', True), (b'""', False)):
        assert shape.text(b"data: " + _same_frame(learnt, text)) is has_text
    # Two strings where one stands is not the frame, whatever the ends look like.
    assert shape.text(b"data: " + _same_frame(learnt, b'"a"},{"x":"b"')) is None
