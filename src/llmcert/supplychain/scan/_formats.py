"""Decide a file's format from its bytes, never from its name.

Scanners that pick files by extension let a renamed payload through (a pickle
called ``model.safetensors`` is still a pickle to ``torch.load``). Magic numbers
come first, then structural checks (safetensors header, JSON, pickle opcodes),
then text classes.
"""

from __future__ import annotations

import ast
import io
import json
import struct
import zipfile
from typing import IO, Final

from llmcert.supplychain.scan._pickle import Limits, read_pickles
from llmcert.supplychain.scan._pickle_ops import is_opcode

HEAD_BYTES: Final = 1 << 16
#: Text files above this size are not parsed as JSON/Python (still hashed and listed).
MAX_TEXT_BYTES: Final = 64 << 20
LEGACY_TORCH_PREFIX: Final = (
    b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
)

ZIP, GGUF, NPY, SAFETENSORS = "zip", "gguf", "numpy-npy", "safetensors"
PICKLE, LEGACY_TORCH, JSON_DOC, MODEL_CARD = "pickle", "pytorch-legacy", "json", "model-card"
JINJA, PYTHON, TEXT, EMPTY, UNKNOWN = "jinja", "python", "text", "empty", "unknown"


def sniff(fh: IO[bytes], size: int) -> str:
    """The format of the ``size`` bytes readable from ``fh`` (position is restored to 0)."""
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    fh.seek(0)
    if not head:
        return EMPTY
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return ZIP
    if head[:4] == b"GGUF":
        return GGUF
    if head[:6] == b"\x93NUMPY":
        return NPY
    if looks_like_safetensors(head, size):
        return SAFETENSORS
    if head.startswith(LEGACY_TORCH_PREFIX):
        return LEGACY_TORCH
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return PICKLE
    text = _utf8(head, complete=len(head) == size)
    is_json_like = text is not None and text.lstrip()[:1] in ("{", "[")
    if is_json_like and size <= MAX_TEXT_BYTES and _is_json(fh):
        return JSON_DOC
    if is_opcode(head[0]) and _looks_like_old_pickle(head):
        return PICKLE
    if text is None:
        return ZIP if _has_zip_directory(fh) else UNKNOWN
    if text.startswith("---\n") or text.startswith("---\r\n"):
        return MODEL_CARD
    if size <= MAX_TEXT_BYTES and _is_python(fh):
        return PYTHON
    if ("{%" in text or "{{" in text) and "messages" in text:
        return JINJA
    return TEXT


def looks_like_safetensors(head: bytes, size: int) -> bool:
    if len(head) < 9 or size < 10:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return 2 <= length <= size - 8 and head[8:9] == b"{"


def _utf8(head: bytes, *, complete: bool) -> str | None:
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the head boundary is still text.
        if not complete and exc.start >= len(head) - 3:
            return head[: exc.start].decode("utf-8")
        return None


def _is_json(fh: IO[bytes]) -> bool:
    try:
        json.loads(fh.read(MAX_TEXT_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    finally:
        fh.seek(0)
    return True


def _is_python(fh: IO[bytes]) -> bool:
    """Parses as Python and does something a prose file would not (import, def, class, call)."""
    try:
        tree = ast.parse(fh.read(MAX_TEXT_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    finally:
        fh.seek(0)
    code_nodes = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Call)
    return any(isinstance(node, code_nodes) for node in ast.walk(tree))


def _looks_like_old_pickle(head: bytes) -> bool:
    """Protocol 0/1 pickles have no magic: accept a stream that decodes for a while.

    A stream that imports or calls something before failing still counts, because
    an unpickler runs opcodes as it reads them.
    """
    result = read_pickles(
        io.BytesIO(head), end=len(head), limits=Limits(max_line=4096), max_streams=1
    )
    if result.streams == 1 and result.opcodes >= 2:
        return True
    return result.opcodes >= 3 and bool(result.imports)


def _has_zip_directory(fh: IO[bytes]) -> bool:
    try:
        return zipfile.is_zipfile(fh)
    finally:
        fh.seek(0)
