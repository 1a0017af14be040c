"""A streaming pickle opcode reader that never unpickles.

It decodes opcodes one by one from a binary stream, keeps a small model of the
unpickler's stack and memo (only strings, callables and call results matter),
and reports every import with its byte offset, every call, and anything a real
unpickler would reject. Work is bounded: long arguments are skipped, not held,
and opcode, stack, memo and stream counts are capped.
"""

from __future__ import annotations

import codecs
import contextlib
import struct
from dataclasses import dataclass, field
from typing import IO, Final, Literal

from llmcert.supplychain.scan._pickle_ops import (
    FIXED,
    NUMERIC_LINES,
    OPS,
    POP_TO_MARK_KEEP,
    POP_TO_MARK_PUSH,
    PREFIX,
    STRING_OPS,
    PickleIssue,
    Source,
    Stop,
    is_opcode,
)


@dataclass(frozen=True)
class PickleImport:
    module: str
    name: str
    offset: int
    opcode: str
    stream: int

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass
class PickleAnalysis:
    streams: int = 0
    end: int = 0
    """Offset just past the last complete stream."""
    imports: list[PickleImport] = field(default_factory=list)
    issues: list[PickleIssue] = field(default_factory=list)
    protocols: list[int] = field(default_factory=list)
    calls: int = 0
    opcodes: int = 0


@dataclass(frozen=True)
class Limits:
    """The reader's budget. About a microsecond and 8 bytes of stack per opcode on one core:
    past ``max_opcodes`` a stream is reported as not fully scanned, which blocks.
    """

    max_opcodes: int = 2_000_000
    max_stack: int = 2_000_000
    max_memo: int = 1_000_000
    max_streams: int = 256
    max_line: int = 65_536
    kept_string: int = 1_024


class _Mark:
    __slots__ = ()


_MARK: Final = _Mark()


@dataclass(frozen=True, slots=True)
class _Val:
    kind: Literal["str", "callable", "call", "other"]
    text: str = ""
    offset: int = 0


_OTHER: Final = _Val("other")
_Entry = _Val | _Mark


def read_pickles(
    fh: IO[bytes],
    *,
    start: int = 0,
    end: int,
    limits: Limits = Limits(),
    max_streams: int | None = None,
) -> PickleAnalysis:
    """Read every pickle stream in ``fh[start:end]``, one after another.

    Stops after ``max_streams`` complete streams (the caller knows what follows,
    e.g. legacy PyTorch storages); otherwise any bytes after a stream are read as
    a further stream, because an unpickler that is called again would run them.
    """
    src = Source(fh, start, end)
    result = PickleAnalysis(end=start)
    cap = min(max_streams or limits.max_streams, limits.max_streams)
    while not src.at_end():
        if result.streams >= cap:
            if max_streams is None:  # a caller that expects N streams owns what follows
                result.issues.append(
                    PickleIssue("limit", src.offset, f"more than {cap} pickle streams")
                )
            break
        first = src.peek()
        if result.streams and (first is None or not is_opcode(first)):
            result.issues.append(
                PickleIssue(
                    "trailing", src.offset, f"{end - src.offset} bytes after the last stream"
                )
            )
            break
        if result.streams and max_streams is None:
            result.issues.append(
                PickleIssue("trailing", src.offset, "another pickle stream follows the first")
            )
        try:
            _read_stream(src, result, limits)
        except Stop as stop:
            result.issues.append(stop.issue)
            break
        result.streams += 1
        result.end = src.offset
    return result


#: Opcodes with no argument that push a plain value (``N``, ``]``, ``)``, ``}``, booleans, ...).
_PLAIN_PUSH: Final = frozenset(
    code
    for code, (name, kind) in OPS.items()
    if kind == "none"
    and name
    in ("NONE", "NEWTRUE", "NEWFALSE", "EMPTY_LIST", "EMPTY_TUPLE", "EMPTY_DICT", "EMPTY_SET")
)
_POP: Final = ord("0")
#: Binary numbers with a fixed width (``K``, ``M``, ``J``, ``G``): push a plain value.
_NUMBER_PUSH: Final = {ord("K"): 1, ord("M"): 2, ord("J"): 4, ord("G"): 8}


def _decode_str(raw: bytes, limit: int) -> str:
    return raw[:limit].decode("utf-8", "backslashreplace")


def _text_arg(src: Source, name: str, limits: Limits, at: int) -> str:
    raw = src.line(limits.max_line)
    if name == "STRING":  # quoted exactly as the unpickler checks: no stripping
        quote = raw[:1]
        if quote not in (b"'", b'"') or len(raw) < 2 or src.line_tail != quote:
            raise Stop("malformed", at, "STRING argument is not quoted")
        body = raw[1:-1] if len(raw) < limits.max_line else raw[1:]
        with contextlib.suppress(ValueError):  # the unpickler unescapes: ``S'o\\x73'`` is "os"
            body = codecs.escape_decode(body)[0]
        return _decode_str(body, limits.kept_string)
    if name == "UNICODE":
        try:
            return raw[: limits.kept_string].decode("raw_unicode_escape")
        except UnicodeDecodeError:
            return raw[: limits.kept_string].decode("latin-1")
    text = raw.decode("ascii", "backslashreplace")
    if name in NUMERIC_LINES and not NUMERIC_LINES[name](text):
        raise Stop("malformed", at, f"{name} argument {text[:40]!r} is not a number")
    return text


def _read_stream(src: Source, out: PickleAnalysis, limits: Limits) -> None:
    stack: list[_Entry] = []
    memo: dict[int, _Entry] = {}
    stream = out.streams

    def pop(at: int) -> _Entry:
        if not stack:
            raise Stop("malformed", at, "stack underflow")
        return stack.pop()

    def pop_val(at: int) -> _Val:
        entry = pop(at)
        if isinstance(entry, _Mark):
            raise Stop("malformed", at, "MARK where a value was expected")
        return entry

    def pop_to_mark(at: int) -> list[_Entry]:
        for i in range(len(stack) - 1, -1, -1):
            if isinstance(stack[i], _Mark):
                items = stack[i + 1 :]
                del stack[i:]
                return items
        raise Stop("malformed", at, "no MARK on the stack")

    def add_import(module: str, name: str, at: int, opname: str) -> _Val:
        out.imports.append(PickleImport(module, name, at, opname, stream))
        return _Val("callable", f"{module}.{name}", at)

    def call(func: _Entry, at: int) -> _Val:
        out.calls += 1
        text = func.text if isinstance(func, _Val) and func.text else "<dynamic>"
        return _Val("call", text, at)

    def discard(items: list[_Entry], at: int) -> None:
        for item in items:
            if isinstance(item, _Val) and item.kind == "call":
                out.issues.append(
                    PickleIssue("discarded_call", at, f"result of {item.text}(...) is thrown away")
                )

    max_opcodes, max_stack, max_memo = limits.max_opcodes, limits.max_stack, limits.max_memo
    while True:
        at = src.offset
        code = src.byte()
        out.opcodes += 1
        if out.opcodes > max_opcodes:
            raise Stop("limit", at, f"more than {max_opcodes} opcodes: not fully scanned")
        if len(stack) > max_stack or len(memo) > max_memo:
            raise Stop("limit", at, "stack or memo grows past the analysis limit")
        if code in _PLAIN_PUSH:  # the common cases first: constants and empty containers
            stack.append(_OTHER)
            continue
        width = _NUMBER_PUSH.get(code)
        if width is not None:
            src.read(width)
            stack.append(_OTHER)
            continue
        if code == _POP and stack and not isinstance(stack[-1], _Mark):
            discard([stack.pop()], at)
            continue
        op = OPS.get(code)
        if op is None:
            raise Stop("malformed", at, f"unknown opcode 0x{code:02x}")
        name, kind = op
        arg: object = None
        if kind in FIXED:
            raw = src.read(FIXED[kind])
            arg = raw if kind == "f8" else int.from_bytes(raw, "little", signed=kind == "i4")
        elif kind in PREFIX:
            fmt, size = PREFIX[kind]
            length = struct.unpack(fmt, src.read(size))[0]
            if length < 0:
                raise Stop("malformed", at, f"{name} has a negative length")
            arg = src.skip(length, limits.kept_string)
        elif kind == "line":
            arg = _text_arg(src, name, limits, at)
        elif kind == "line2":
            module = src.line(limits.max_line).decode("utf-8", "backslashreplace")
            attr = src.line(limits.max_line).decode("utf-8", "backslashreplace")
            arg = (module, attr)

        if name in STRING_OPS:
            raw_arg = arg if isinstance(arg, bytes) else b""
            text = arg if isinstance(arg, str) else _decode_str(raw_arg, limits.kept_string)
            stack.append(_Val("str", text, at))
        elif name == "PROTO":
            assert isinstance(arg, int)
            if arg > 5:
                raise Stop("malformed", at, f"unsupported pickle protocol {arg}")
            out.protocols.append(arg)
        elif name == "FRAME":
            continue
        elif name == "STOP":
            pop_val(at)
            return
        elif name == "MARK":
            stack.append(_MARK)
        elif name == "POP":
            discard([pop(at)], at)
        elif name == "POP_MARK":
            discard(pop_to_mark(at), at)
        elif name == "DUP":
            if not stack:
                raise Stop("malformed", at, "DUP on an empty stack")
            stack.append(stack[-1])
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            key = _int_arg(arg, at)
            if key not in memo:
                raise Stop("malformed", at, f"memo key {key} was never stored")
            stack.append(memo[key])
        elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            if not stack or isinstance(stack[-1], _Mark):
                raise Stop("malformed", at, f"{name} with no value on the stack")
            memo[len(memo) if name == "MEMOIZE" else _int_arg(arg, at)] = stack[-1]
        elif name == "GLOBAL":
            assert isinstance(arg, tuple)
            stack.append(add_import(arg[0], arg[1], at, name))
        elif name == "STACK_GLOBAL":
            qualname, module_val = pop_val(at), pop_val(at)
            if qualname.kind != "str" or module_val.kind != "str":
                out.issues.append(
                    PickleIssue("unresolved", at, "STACK_GLOBAL operands are not constant strings")
                )
                stack.append(_Val("callable", "<unresolved>", at))
            else:
                stack.append(add_import(module_val.text, qualname.text, at, name))
        elif name in ("EXT1", "EXT2", "EXT4"):
            out.issues.append(
                PickleIssue("unresolved", at, f"{name} loads a callable from the copyreg registry")
            )
            stack.append(_Val("callable", f"<extension {arg}>", at))
        elif name == "INST":
            assert isinstance(arg, tuple)
            func = add_import(arg[0], arg[1], at, name)
            pop_to_mark(at)
            stack.append(call(func, at))
        elif name == "OBJ":
            items = pop_to_mark(at)
            if not items:
                raise Stop("malformed", at, "OBJ without a class")
            stack.append(call(items[0], at))
        elif name in ("REDUCE", "NEWOBJ"):
            pop_val(at)
            stack.append(call(pop_val(at), at))
        elif name == "NEWOBJ_EX":
            pop_val(at)
            pop_val(at)
            stack.append(call(pop_val(at), at))
        elif name == "BUILD":
            pop_val(at)
            if not stack:
                raise Stop("malformed", at, "BUILD without an object")
        elif name in ("APPEND", "SETITEM"):
            for _ in range(1 if name == "APPEND" else 2):
                pop_val(at)
            if not stack or isinstance(stack[-1], _Mark):
                raise Stop("malformed", at, f"{name} without a container")
        elif name in POP_TO_MARK_KEEP:
            pop_to_mark(at)
            if not stack or isinstance(stack[-1], _Mark):
                raise Stop("malformed", at, f"{name} without a container")
        elif name in POP_TO_MARK_PUSH:
            pop_to_mark(at)
            stack.append(_OTHER)
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            for _ in range(int(name[-1])):
                pop_val(at)
            stack.append(_OTHER)
        elif name in ("BINPERSID", "READONLY_BUFFER"):
            pop_val(at)
            stack.append(_OTHER)
        else:  # constants, empty containers, PERSID, NEXT_BUFFER
            stack.append(_OTHER)


def _int_arg(arg: object, at: int) -> int:
    if isinstance(arg, int):
        return arg
    try:
        return int(str(arg))
    except ValueError:
        raise Stop("malformed", at, f"memo key {str(arg)[:40]!r} is not an integer") from None
