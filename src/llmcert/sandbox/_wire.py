"""Plain data across the pipe between the trusted tests and the program (standard library only).

Both sides of the sandbox's test harness load this file. A value crosses as
JSON with tagged types, never as pickle: lists are JSON arrays; tuples, sets,
frozensets, dicts (any hashable keys), bytes, bytearrays, complex numbers,
non-finite floats and ints past 64 bits (in hexadecimal) are one-key objects; an object that is not plain data stays
in the program's process and crosses as an opaque handle. A regular-expression
match (MBPP's ``assert text_match(...)``) crosses as its text and span and
becomes a :class:`Matched`, which is true as ``re.Match`` is. The decoder builds
only builtin values (and handles), so the trusted side compares real values
with its own ``==``: whatever a program returns, it cannot choose how it is
compared.

Frames are an 8-byte big-endian length and that many bytes of UTF-8 JSON.

Every sandbox imports this file before the program starts, so it keeps to
modules the interpreter has loaded anyway or that cost nothing: not ``typing``,
and not the ``json`` package, whose decoder imports ``re`` and ``enum`` (about
5 ms of every start-up); it drives json's C codec, ``_json``, itself.
"""

from __future__ import annotations

import binascii
import math
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Largest frame either side accepts; a longer one is a protocol violation.
MAX_FRAME = 256 << 20
_HEADER = 8  # bytes of big-endian length before each frame


class NotPlainData(ValueError):
    """A frame or a value that is not what the protocol allows."""


_NATIVE = frozenset({str, bool, type(None)})
_NUMBERS = frozenset({int, float})


def _native(seq: list[Any] | tuple[Any, ...]) -> bool:
    """Whether every item is a scalar JSON keeps as it is (the fast path for long flat lists)."""
    kinds = set(map(type, seq))
    if kinds <= _NATIVE:
        return True
    if not kinds <= _NATIVE | _NUMBERS:
        return False
    numbers = [v for v in seq if type(v) in _NUMBERS]
    return all(map(math.isfinite, numbers)) and all(
        -(1 << 63) <= v < (1 << 63) for v in numbers if type(v) is int
    )


def encode(value: Any, handle: Callable[[Any], int] | None = None, _depth: int = 0) -> Any:
    """``value`` as JSON-ready data; ``handle`` registers what is not plain data (else it fails)."""
    if _depth > 200:
        raise NotPlainData("nested deeper than 200 levels")
    kind = type(value)
    if kind is list and _native(value):
        return list(value)
    if kind is tuple and _native(value):
        return {"t": list(value)}
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
        return {"b": binascii.b2a_base64(value, newline=False).decode()}
    if isinstance(value, bytearray):
        return {"y": binascii.b2a_base64(value, newline=False).decode()}
    if isinstance(value, complex):
        return {"c": [encode(value.real), encode(value.imag)]}
    regex = sys.modules.get("re")  # not imported at start-up: only a program using re has matches
    if regex is not None and isinstance(value, regex.Match):
        return {"m": [encode(value.group(0)), value.start(), value.end()]}
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
        if set(map(type, data)) <= _DECODED:
            return data
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
    return decode(body, handle, depth)  # type: ignore[no-any-return]


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
    if not _BASE64.issuperset(body):
        raise NotPlainData("not base64 text")
    return binascii.a2b_base64(body)


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


class Matched:
    """What a regular-expression match of the program is on the tests' side: always true (as
    ``re.Match`` is), with the matched text and span; built here, so its methods are trusted."""

    __slots__ = ("_span", "_text")

    def __init__(self, text: str | bytes, start: int, end: int) -> None:
        self._text, self._span = text, (start, end)

    def __bool__(self) -> bool:
        return True

    def group(self, index: int = 0) -> str | bytes:
        if index != 0:
            raise IndexError("only the whole match crosses from the program")
        return self._text

    def __getitem__(self, index: int) -> str | bytes:
        return self.group(index)

    def span(self) -> tuple[int, int]:
        return self._span

    def start(self) -> int:
        return self._span[0]

    def end(self) -> int:
        return self._span[1]

    def __repr__(self) -> str:
        return f"<match span={self._span!r}, match={self._text!r}>"


def _match(body: Any, handle: Callable[[int], Any] | None, depth: int) -> Matched:
    parts = _items(body, handle, depth)
    ok = len(parts) == 3 and type(parts[0]) in (str, bytes)
    if not ok or not all(type(p) is int for p in parts[1:]):
        raise NotPlainData("expected the matched text and its span")
    return Matched(parts[0], parts[1], parts[2])


def _handle(body: Any, handle: Callable[[int], Any] | None, depth: int) -> Any:
    if handle is None or type(body) is not int:
        raise NotPlainData("no handle expected here")
    return handle(body)


_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_DECODED = frozenset({str, bool, int, float, type(None)})
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
    "m": _match,
    "h": _handle,
}


def _no_constant(name: str) -> Any:
    raise NotPlainData(f"{name} is not JSON")


def _not_json(value: Any) -> Any:
    raise NotPlainData(f"a {type(value).__name__} is not JSON")


try:
    from _json import encode_basestring_ascii, make_encoder, make_scanner
except ImportError:  # an interpreter without json's C codec: the json package does the same
    import json

    def dumps(message: Any) -> str:
        """``message`` as compact JSON; NaN and infinities are refused."""
        return json.dumps(message, separators=(",", ":"), allow_nan=False, default=_not_json)

    def loads(text: str | bytes) -> Any:
        """One JSON value, strictly: NaN and infinities are refused (ValueError when malformed)."""
        return json.loads(text, parse_constant=_no_constant)

else:

    class _Strict:
        """What json's C scanner reads from its decoder: strict strings, JSON's own types."""

        strict = True
        object_hook = object_pairs_hook = None
        parse_float, parse_int = float, int
        parse_constant = staticmethod(_no_constant)

    _scan = make_scanner(_Strict())  # type: ignore[arg-type]  # it reads these attributes

    def dumps(message: Any) -> str:
        """``message`` as compact JSON; NaN and infinities are refused."""
        encoder = make_encoder(
            {}, _not_json, encode_basestring_ascii, None, ":", ",", False, False, False
        )
        return "".join(encoder(message, 0))

    def loads(text: str | bytes) -> Any:
        """One JSON value, strictly: NaN and infinities are refused (ValueError when malformed)."""
        if not isinstance(text, str):
            text = text.decode()  # not UTF-8: UnicodeDecodeError, a ValueError
        try:
            value, end = _scan(text, 0)
        except StopIteration:
            raise ValueError("expected a JSON value") from None
        if end != len(text):
            raise ValueError("extra data after the JSON value")
        return value


def frame(message: Any) -> bytes:
    """``message`` as one frame; over :data:`MAX_FRAME` it is refused before it is sent."""
    data = dumps(message).encode()
    if len(data) > MAX_FRAME:
        raise NotPlainData(f"a reply of {len(data)} bytes is over the {MAX_FRAME}-byte limit")
    return len(data).to_bytes(_HEADER, "big") + data


def send(fd: int, message: Any) -> None:
    write(fd, frame(message))


def write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def receive(fd: int) -> Any:
    """The next message; EOFError when the other side has gone, NotPlainData for a bad frame."""
    size = int.from_bytes(_read(fd, _HEADER), "big")
    if size > MAX_FRAME:
        raise NotPlainData(f"a frame of {size} bytes is over the {MAX_FRAME}-byte limit")
    raw = _read(fd, size)
    try:
        return loads(raw)
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
