"""The plain-data codec between the tests and the program: exact round trips, strict decoding."""

from __future__ import annotations

import json
import math
import os
import struct

import pytest

from llmcert.sandbox._wire import MAX_FRAME, NotPlainData, decode, encode, receive, send

VALUES = [
    None,
    True,
    0,
    -(2**63),
    2**64,
    -(10**400),
    1.5,
    -0.0,
    math.inf,
    -math.inf,
    "é\ud800",
    [1, [2, (3, 4)]],
    (),
    {1, 2},
    frozenset({(1, 2)}),
    {(1, 2): {"a": [b"\x00"]}, None: 1.0},
    b"\x00\xff",
    bytearray(b"x"),
    3 - 4j,
]


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:30] for v in VALUES])
def test_values_round_trip_with_their_types(value: object) -> None:
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value
    assert type(back) is type(value)


def test_nan_and_negative_zero_keep_their_identity() -> None:
    assert math.isnan(decode(encode(math.nan)))
    assert math.copysign(1, decode(encode(-0.0))) == -1


def test_subclasses_cross_as_their_builtin_base() -> None:
    class Int(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    back = decode(encode([Int(3)]))
    assert type(back[0]) is int
    assert back != [4]


@pytest.mark.parametrize(
    "data",
    [
        {"t": [1], "s": [2]},
        {"x": 1},
        {"h": 0},
        {"b": "***"},
        {"s": [[1]]},
        {"d": [[1]]},
        {"c": [1, "2"]},
        {"f": "1.0"},
        {"i": 12},
        {},
        {"t": 5},
    ],
)
def test_anything_else_is_refused(data: object) -> None:
    with pytest.raises(NotPlainData):
        decode(data)


def test_objects_need_a_handle_table() -> None:
    with pytest.raises(NotPlainData, match="object"):
        encode(object())
    kept: list[object] = []
    data = encode([object()], lambda v: kept.append(v) or len(kept) - 1)
    assert data == [{"h": 0}]
    assert decode(data, lambda n: ("handle", n)) == [("handle", 0)]


def test_too_deep_is_refused_not_a_crash() -> None:
    deep: object = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(NotPlainData, match="deeper"):
        encode(deep)
    raw: object = []
    for _ in range(300):
        raw = [raw]
    with pytest.raises(NotPlainData, match="deeper"):
        decode(raw)


def test_frames_round_trip_and_oversized_or_cut_ones_are_refused() -> None:
    r, w = os.pipe()
    try:
        send(w, {"ok": encode((1, "a"))})
        assert decode(receive(r)["ok"]) == (1, "a")
        os.write(w, struct.pack(">Q", MAX_FRAME + 1))
        with pytest.raises(NotPlainData, match="limit"):
            receive(r)
        os.write(w, struct.pack(">Q", 3) + b"{x}")
        with pytest.raises(NotPlainData, match="JSON"):
            receive(r)
        os.write(w, struct.pack(">Q", 10) + b"{}")
        os.close(w)
        w = -1
        with pytest.raises(EOFError):
            receive(r)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


@pytest.mark.parametrize(
    "raw",
    [b"NaN", b"[Infinity]", b'{"a": -Infinity}', b"[1] [2]", b" [1]", b"[1,]", b"\xff\xfe", b""],
)
def test_frames_hold_one_strict_json_value(raw: bytes) -> None:
    r, w = os.pipe()
    try:
        os.write(w, struct.pack(">Q", len(raw)) + raw)
        with pytest.raises(NotPlainData, match="JSON"):
            receive(r)
    finally:
        os.close(r)
        os.close(w)


def test_what_crosses_is_compact_ascii_json_without_nan() -> None:
    r, w = os.pipe()
    try:
        send(w, {"ok": encode(["é", 1.5, 2**70, None])})
        size = struct.unpack(">Q", os.read(r, 8))[0]
        assert os.read(r, size) == b'{"ok":["\\u00e9",1.5,{"i":"400000000000000000"},null]}'
        with pytest.raises(ValueError, match="JSON"):
            send(w, {"x": float("nan")})
    finally:
        os.close(r)
        os.close(w)
