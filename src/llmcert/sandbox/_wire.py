"""Plain data across the pipe between the trusted tests and the program (standard library only).

Both sides of the sandbox's test harness load this file. A value crosses as
JSON with tagged types, never as pickle: lists are JSON arrays; tuples, sets,
frozensets, dicts (any hashable keys), bytes, bytearrays, complex numbers,
non-finite floats and ints past 64 bits (in hexadecimal) are one-key objects; an object that is not plain data stays
in the program's process and crosses as an opaque handle. The decoder builds
only builtin values (and handles), so the trusted side compares real values
with its own ``==``: whatever a program returns, it cannot choose how it is
compared.

Frames are an 8-byte big-endian length and that many bytes of UTF-8 JSON.
"""

from __future__ import annotations

import base64
import json
import math
import os
import struct
from collections.abc import Callable
from typing import Any

#: Largest frame either side accepts; a longer one is a protocol violation.
MAX_FRAME = 256 << 20
_HEADER = struct.Struct(">Q")


class NotPlainData(ValueError):
    """A frame or a value that is not what the protocol allows."""


def encode(value: Any, handle: Callable[[Any], int] | None = None, _depth: int = 0) -> Any:
    """``value`` as JSON-ready data; ``handle`` registers what is not plain data (else it fails)."""
    if _depth > 200:
        raise NotPlainData("nested deeper than 200 levels")
    if value is None or isinstance(value, bool):
        return None if value is None else bool(value)
    if isinstance(value, int):
        value = int(value)
        # decimal conversion is quadratic in the digits (HumanEval+/83 returns 10**999998)
        return value if value.bit_length() <= 64 else {"i": format(value, "x")}
    if isinstance(value, float):
        value = float(value)
        return value if math.isfinite(value) else {"f": repr(value)}
    if isinstance(value, str):
        return str.__str__(value)
    d = _depth + 1
    if isinstance(value, list):
        return [encode(v, handle, d) for v in value]
    if isinstance(value, tuple):
        return {"t": [encode(v, handle, d) for v in value]}
    if isinstance(value, frozenset):
        return {"z": [encode(v, handle, d) for v in value]}
    if isinstance(value, set):
        return {"s": [encode(v, handle, d) for v in value]}
    if isinstance(value, dict):
        return {"d": [[encode(k, handle, d), encode(v, handle, d)] for k, v in value.items()]}
    if isinstance(value, bytes):
        return {"b": base64.b64encode(value).decode()}
    if isinstance(value, bytearray):
        return {"y": base64.b64encode(value).decode()}
    if isinstance(value, complex):
        return {"c": [encode(value.real), encode(value.imag)]}
    if handle is None:
        raise NotPlainData(f"a {type(value).__name__} is not plain data")
    return {"h": handle(value)}


def decode(data: Any, handle: Callable[[int], Any] | None = None, _depth: int = 0) -> Any:
    """Builtin values from ``encode``'s output; anything else raises :class:`NotPlainData`."""
    if _depth > 200:
        raise NotPlainData("nested deeper than 200 levels")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    d = _depth + 1
    if isinstance(data, list):
        return [decode(v, handle, d) for v in data]
    if not isinstance(data, dict) or len(data) != 1:
        raise NotPlainData("malformed value")
    ((tag, body),) = data.items()
    try:
        return _TAGS[tag](body, handle, d)
    except KeyError as exc:
        raise NotPlainData(f"unknown tag {str(tag)[:20]!r}") from exc
    except (TypeError, ValueError, OverflowError) as exc:  # unhashable key, bad base64, ...
        raise NotPlainData(f"malformed {str(tag)[:20]!r} value: {exc}") from exc


def _items(body: Any, handle: Callable[[int], Any] | None, depth: int) -> list[Any]:
    if not isinstance(body, list):
        raise NotPlainData("expected a list")
    return [decode(v, handle, depth) for v in body]


def _float(body: Any, handle: Callable[[int], Any] | None, depth: int) -> float:
    if body not in ("nan", "inf", "-inf"):
        raise NotPlainData("not a non-finite float")
    return float(body)


def _int(body: Any, handle: Callable[[int], Any] | None, depth: int) -> int:
    if not isinstance(body, str):
        raise NotPlainData("expected hexadecimal digits")
    return int(body, 16)


def _bytes(body: Any) -> bytes:
    if not isinstance(body, str):
        raise NotPlainData("expected base64 text")
    return base64.b64decode(body, validate=True)


def _dict(body: Any, handle: Callable[[int], Any] | None, depth: int) -> dict[Any, Any]:
    pairs = _items(body, handle, depth)
    if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise NotPlainData("expected key-value pairs")
    return {k: v for k, v in pairs}


def _complex(body: Any, handle: Callable[[int], Any] | None, depth: int) -> complex:
    parts = _items(body, handle, depth)
    if len(parts) != 2 or not all(type(p) in (int, float) for p in parts):
        raise NotPlainData("expected two real parts")
    return complex(parts[0], parts[1])


def _handle(body: Any, handle: Callable[[int], Any] | None, depth: int) -> Any:
    if handle is None or type(body) is not int:
        raise NotPlainData("no handle expected here")
    return handle(body)


_TAGS: dict[str, Callable[[Any, Callable[[int], Any] | None, int], Any]] = {
    "t": lambda b, h, d: tuple(_items(b, h, d)),
    "s": lambda b, h, d: set(_items(b, h, d)),
    "z": lambda b, h, d: frozenset(_items(b, h, d)),
    "d": _dict,
    "b": lambda b, h, d: _bytes(b),
    "y": lambda b, h, d: bytearray(_bytes(b)),
    "c": _complex,
    "f": _float,
    "i": _int,
    "h": _handle,
}


def send(fd: int, message: Any) -> None:
    data = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def receive(fd: int) -> Any:
    """The next message; EOFError when the other side has gone, NotPlainData for a bad frame."""
    (size,) = _HEADER.unpack(_read(fd, _HEADER.size))
    if size > MAX_FRAME:
        raise NotPlainData(f"a frame of {size} bytes is over the {MAX_FRAME}-byte limit")
    raw = _read(fd, size)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise NotPlainData(f"not JSON: {str(exc)[:100]}") from exc


def _read(fd: int, size: int) -> bytes:
    parts, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
