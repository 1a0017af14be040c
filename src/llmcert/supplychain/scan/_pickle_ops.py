"""Opcode table and byte source of the streaming pickle reader.

The table is written out from the ``pickletools`` documentation (opcode byte,
name, argument encoding) so the reader depends on nothing that decodes pickles.
The source buffers reads, tracks absolute offsets and skips long arguments
without holding them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Final, Literal

IssueKind = Literal["malformed", "truncated", "unresolved", "discarded_call", "limit", "trailing"]


@dataclass(frozen=True)
class PickleIssue:
    kind: IssueKind
    offset: int
    detail: str


# Argument kinds: fixed sizes, newline-terminated text, or length-prefixed blobs.
FIXED: Final = {"u1": 1, "u2": 2, "u4": 4, "i4": 4, "u8": 8, "f8": 8}
PREFIX: Final = {"len1": ("<B", 1), "len4": ("<I", 4), "slen4": ("<i", 4), "len8": ("<Q", 8)}

# code -> (name, argument kind); names follow the pickletools documentation.
OPS: Final[dict[int, tuple[str, str]]] = {
    ord(c): (n, a)
    for c, n, a in [
        ("I", "INT", "line"), ("J", "BININT", "i4"), ("K", "BININT1", "u1"),
        ("M", "BININT2", "u2"), ("L", "LONG", "line"), ("\x8a", "LONG1", "len1"),
        ("\x8b", "LONG4", "slen4"), ("S", "STRING", "line"), ("T", "BINSTRING", "slen4"),
        ("U", "SHORT_BINSTRING", "len1"), ("B", "BINBYTES", "len4"),
        ("C", "SHORT_BINBYTES", "len1"), ("\x8e", "BINBYTES8", "len8"),
        ("\x96", "BYTEARRAY8", "len8"), ("\x97", "NEXT_BUFFER", "none"),
        ("\x98", "READONLY_BUFFER", "none"), ("N", "NONE", "none"), ("\x88", "NEWTRUE", "none"),
        ("\x89", "NEWFALSE", "none"), ("V", "UNICODE", "line"),
        ("\x8c", "SHORT_BINUNICODE", "len1"), ("X", "BINUNICODE", "len4"),
        ("\x8d", "BINUNICODE8", "len8"), ("F", "FLOAT", "line"), ("G", "BINFLOAT", "f8"),
        ("]", "EMPTY_LIST", "none"), ("a", "APPEND", "none"), ("e", "APPENDS", "none"),
        ("l", "LIST", "none"), (")", "EMPTY_TUPLE", "none"), ("t", "TUPLE", "none"),
        ("\x85", "TUPLE1", "none"), ("\x86", "TUPLE2", "none"), ("\x87", "TUPLE3", "none"),
        ("}", "EMPTY_DICT", "none"), ("d", "DICT", "none"), ("s", "SETITEM", "none"),
        ("u", "SETITEMS", "none"), ("\x8f", "EMPTY_SET", "none"), ("\x90", "ADDITEMS", "none"),
        ("\x91", "FROZENSET", "none"), ("0", "POP", "none"), ("2", "DUP", "none"),
        ("(", "MARK", "none"), ("1", "POP_MARK", "none"), ("g", "GET", "line"),
        ("h", "BINGET", "u1"), ("j", "LONG_BINGET", "u4"), ("p", "PUT", "line"),
        ("q", "BINPUT", "u1"), ("r", "LONG_BINPUT", "u4"), ("\x94", "MEMOIZE", "none"),
        ("\x82", "EXT1", "u1"), ("\x83", "EXT2", "u2"), ("\x84", "EXT4", "i4"),
        ("c", "GLOBAL", "line2"), ("\x93", "STACK_GLOBAL", "none"), ("R", "REDUCE", "none"),
        ("b", "BUILD", "none"), ("i", "INST", "line2"), ("o", "OBJ", "none"),
        ("\x81", "NEWOBJ", "none"), ("\x92", "NEWOBJ_EX", "none"), ("\x80", "PROTO", "u1"),
        (".", "STOP", "none"), ("\x95", "FRAME", "u8"), ("P", "PERSID", "line"),
        ("Q", "BINPERSID", "none"),
    ]
}  # fmt: skip


def _int0(text: str) -> bool:
    """INT and LONG arguments as the unpickler reads them: ``int(text, 0)`` (hex, octal, ``_``)."""
    if text in ("00", "01"):  # protocol 0 booleans
        return True
    try:
        int(text, 0)
    except ValueError:
        return False
    return True


def _int10(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: Whether a text argument is one the unpickler's own parser accepts (never a stricter grammar).
NUMERIC_LINES: Final[dict[str, Callable[[str], bool]]] = {
    "INT": _int0,
    "LONG": lambda text: _int0(text[:-1] if text.endswith("L") else text),
    "FLOAT": _float,
    "GET": _int10,
    "PUT": _int10,
}
STRING_OPS: Final = frozenset(
    {
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
        "UNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
    }
)
POP_TO_MARK_PUSH: Final = frozenset({"LIST", "TUPLE", "DICT", "FROZENSET"})
POP_TO_MARK_KEEP: Final = frozenset({"APPENDS", "SETITEMS", "ADDITEMS"})


def is_opcode(byte: int) -> bool:
    return byte in OPS


class Stop(Exception):
    """Ends the current stream with an issue."""

    def __init__(self, kind: IssueKind, offset: int, detail: str) -> None:
        super().__init__(detail)
        self.issue = PickleIssue(kind, offset, detail)


class Source:
    """Buffered reads with an absolute offset; long payloads are skipped, not kept."""

    def __init__(self, fh: IO[bytes], start: int, end: int) -> None:
        self._fh = fh
        self._buf = b""
        self._pos = 0
        self.offset = start
        self._end = end
        self.line_tail = b""
        """The last byte of the most recent line argument (kept even when the line is cut)."""
        fh.seek(start)

    def _fill(self, need: int) -> None:
        while len(self._buf) - self._pos < need:
            room = self._end - (self.offset + len(self._buf) - self._pos)
            if room <= 0:
                return
            chunk = self._fh.read(min(max(need, 1 << 16), room))
            if not chunk:
                return
            self._buf = self._buf[self._pos :] + chunk
            self._pos = 0

    def at_end(self) -> bool:
        self._fill(1)
        return len(self._buf) - self._pos == 0

    def peek(self) -> int | None:
        self._fill(1)
        return self._buf[self._pos] if len(self._buf) > self._pos else None

    def byte(self) -> int:
        """One byte, on the fast path of the opcode loop."""
        pos = self._pos
        if pos >= len(self._buf):
            return self.read(1)[0]
        self._pos = pos + 1
        self.offset += 1
        return self._buf[pos]

    def read(self, n: int) -> bytes:
        self._fill(n)
        data = self._buf[self._pos : self._pos + n]
        if len(data) < n:
            raise Stop("truncated", self.offset, f"needed {n} bytes, found {len(data)}")
        self._pos += n
        self.offset += n
        return data

    def skip(self, n: int, keep: int) -> bytes:
        """Consume ``n`` bytes and return at most the first ``keep`` of them."""
        head = self.read(min(n, keep))
        left = n - len(head)
        while left:
            step = min(left, 1 << 20)
            self.read(step)
            left -= step
        return head

    def line(self, limit: int) -> bytes:
        """A newline-terminated argument; only its first ``limit`` bytes are kept.

        The unpickler's ``readline`` has no length limit, so neither has the reader:
        a long argument is consumed to its newline, not treated as an error.
        """
        out = bytearray()
        self.line_tail = b""
        while True:
            self._fill(1)
            if len(self._buf) <= self._pos:
                raise Stop("truncated", self.offset, "line argument without newline")
            stop = self._buf.find(b"\n", self._pos)
            piece = self._buf[self._pos : stop if stop >= 0 else len(self._buf)]
            if len(out) < limit:
                out += piece[: limit - len(out)]
            if piece:
                self.line_tail = piece[-1:]
            self._pos += len(piece)
            self.offset += len(piece)
            if stop >= 0:
                self._pos += 1
                self.offset += 1
                return bytes(out)
