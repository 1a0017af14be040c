"""Decide a file's formats from its bytes, by what the real loaders accept.

Scanners that pick files by extension let a renamed payload through (a pickle
called ``model.safetensors`` is still a pickle to ``torch.load``), and scanners
that use a stricter grammar than the loader let through what the loader takes
(a protocol-0 pickle with a hex integer, a safetensors header that claims more
bytes than the file has). So every test here is the loader's own acceptance
test, or a looser one; and a file several loaders accept has several views,
each judged by its loader's checker.
"""

from __future__ import annotations

import ast
import bz2
import io
import json
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import IO, Final

from llmcert.supplychain.scan._pickle import Limits, read_pickles
from llmcert.supplychain.scan._pickle_ops import is_opcode

HEAD_BYTES: Final = 1 << 16
#: Text files above this size are not parsed as JSON/Python/templates (still hashed and listed).
MAX_TEXT_BYTES: Final = 64 << 20
LEGACY_TORCH_PREFIX: Final = (
    b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + b"."
)
#: HDF5 looks for its signature at 0 and at every power of two from 512 on.
HDF5_MAGIC: Final = b"\x89HDF\r\n\x1a\n"
HDF5_OFFSETS: Final = (0, 512, 1024, 2048, 4096, 8192)

ZIP, GGUF, NPY, SAFETENSORS = "zip", "gguf", "numpy-npy", "safetensors"
PICKLE, LEGACY_TORCH, JSON_DOC, MODEL_CARD = "pickle", "pytorch-legacy", "json", "model-card"
JINJA, PYTHON, TEXT, EMPTY, UNKNOWN = "jinja", "python", "text", "empty", "unknown"
TAR, COMPRESSED, HDF5, ONNX = "tar", "compressed", "hdf5", "onnx"
#: Formats with a magic number of their own: no other loader reads them from byte 0.
MAGIC_FORMATS: Final = frozenset({ZIP, GGUF, NPY, HDF5, SAFETENSORS})


@dataclass
class Detection:
    primary: str
    also: list[str] = field(default_factory=list)
    """Further views: formats another real loader would read the same bytes as."""

    @property
    def all(self) -> list[str]:
        return [self.primary, *self.also]


def sniff(fh: IO[bytes], size: int) -> str:
    """The primary format of the ``size`` bytes readable from ``fh`` (position restored to 0)."""
    return detect(fh, size).primary


def detect(fh: IO[bytes], size: int, *, other_views: bool = True) -> Detection:
    """Every format a supported loader could read ``fh`` as; the first is the primary one.

    ``other_views`` off (members of containers, whose loader fixes how they are
    read) skips the search for a second directory at the end of the stream.
    """
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    fh.seek(0)
    if not head:
        return Detection(EMPTY)
    found = Detection(_primary(fh, head, size))
    if other_views and found.primary != ZIP and has_zip_directory(fh):
        found.also.append(ZIP)
    # ``torch.load`` unpickles any file that is not a zip: a header that also runs as a pickle
    if (
        other_views
        and found.primary in MAGIC_FORMATS - {ZIP}
        and is_opcode(head[0])
        and could_unpickle(head, complete=True)
    ):
        found.also.append(PICKLE)
    if found.primary == JINJA and _is_card(head):
        found.also.append(MODEL_CARD)
    return found


def _primary(fh: IO[bytes], head: bytes, size: int) -> str:
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return ZIP
    if head[:4] == b"GGUF":
        return GGUF
    if head[:6] == b"\x93NUMPY":
        return NPY
    if any(head[at : at + 8] == HDF5_MAGIC for at in HDF5_OFFSETS):
        return HDF5
    if looks_like_safetensors(head, size):
        return SAFETENSORS
    if head.startswith(LEGACY_TORCH_PREFIX):
        return LEGACY_TORCH
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return PICKLE
    if compression_of(head) is not None:
        return COMPRESSED
    if _is_tar(head):
        return TAR
    text = _utf8(head, complete=len(head) == size)
    is_json_like = text is not None and text.lstrip()[:1] in ("{", "[")
    if is_json_like and (size > MAX_TEXT_BYTES or _is_json(fh)):
        return JSON_DOC  # too large to parse is still JSON to a loader: the checker says so
    if is_opcode(head[0]) and could_unpickle(head, complete=len(head) == size):
        return PICKLE
    if text is None:
        if looks_like_onnx(fh, size):
            return ONNX
        return ZIP if has_zip_directory(fh) else UNKNOWN
    full = _read_text(fh, size)
    if _is_template(full, card=_is_card(head)):
        return JINJA
    if _is_card(head):
        return MODEL_CARD
    if size <= MAX_TEXT_BYTES and _is_python(full):
        return PYTHON
    return TEXT


def looks_like_safetensors(head: bytes, size: int) -> bool:
    """8-byte length then a JSON object, as the safetensors loader reads it.

    A declared length past the end of the file is still safetensors (the loader
    reads the length first); the checker reports the lie. Text that happens to
    have ``{`` at byte 8 is not: a real length has zero high bytes.
    """
    if len(head) < 9:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    return head[8:9] == b"{" and (b"\x00" in head[:8] or length <= size - 8)


#: Compression magics joblib recognises (``joblib.compressor``) plus zlib's header check.
_MAGICS: Final = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"ZF", "zlib-zf"),
)


def compression_of(head: bytes) -> str | None:
    """The codec of a compressed stream (as joblib detects it), if its start decompresses."""
    for magic, codec in _MAGICS:
        if head.startswith(magic):
            return codec if codec == "lz4" or _decompresses(codec, head) else None
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib" if _decompresses("zlib", head) else None
    return None


def decompressor(codec: str) -> object:
    """A fresh incremental decompressor object for ``codec`` (``lz4`` needs the lz4 package)."""
    if codec in ("zlib", "zlib-zf"):
        return zlib.decompressobj()
    if codec == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if codec == "bz2":
        return bz2.BZ2Decompressor()
    if codec in ("xz", "lzma"):
        return lzma.LZMADecompressor()
    import lz4.frame  # type: ignore[import-untyped, unused-ignore]

    return lz4.frame.LZ4FrameDecompressor()


def _decompresses(codec: str, head: bytes) -> bool:
    data = head
    if codec == "zlib-zf":  # joblib < 0.10: "ZF" + 0x-prefixed length, then zlib
        data = head[2 + 19 :] if len(head) > 21 else b""
    try:
        out = decompressor(codec).decompress(data, 4096)  # type: ignore[attr-defined]
    except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError):
        return False
    return bool(out) or len(data) < 64


def _is_tar(head: bytes) -> bool:
    """A tar header block whose checksum is right (what ``tarfile`` requires)."""
    if len(head) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
    except (tarfile.HeaderError, ValueError):
        return False
    return True


def could_unpickle(head: bytes, *, complete: bool) -> bool:
    """Whether an unpickler would run ``head`` (a protocol 0/1 pickle has no magic).

    True when a stream ends, when anything is imported or called before the
    reader gives up, or when the head ends inside a plausible stream. A stream the
    loader itself rejects at once, with no effect, is not a pickle.
    """
    result = read_pickles(
        io.BytesIO(head), end=len(head), limits=Limits(max_line=len(head)), max_streams=1
    )
    if result.streams or any(_importable(i.module, i.name) for i in result.imports):
        return True
    cut = any(i.kind == "truncated" for i in result.issues)
    return cut and not complete and result.opcodes >= 1


_DOTTED: Final = re.compile(r"[A-Za-z_][\w.]*")


def _importable(module: str, name: str) -> bool:
    """``find_class`` imports only a module with a valid name (``import os`` is not one)."""
    return bool(_DOTTED.fullmatch(module) and _DOTTED.fullmatch(name))


def looks_like_onnx(fh: IO[bytes], size: int) -> bool:
    from llmcert.supplychain.scan._onnx import is_onnx

    try:
        return is_onnx(fh, size)
    finally:
        fh.seek(0)


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


def _read_text(fh: IO[bytes], size: int) -> str:
    try:
        return fh.read(min(size, MAX_TEXT_BYTES)).decode("utf-8", "replace")
    finally:
        fh.seek(0)


def _is_card(head: bytes) -> bool:
    return head.startswith((b"---\n", b"---\r\n"))


_JINJA_BLOCK: Final = re.compile(r"\{[%{]")


def _is_template(text: str, *, card: bool) -> bool:
    """Jinja syntax anywhere in the file (not only its first bytes) that a renderer would take.

    Text over ``messages`` is a template even if it does not parse (that is a
    finding); other text with Jinja blocks is one if it parses, since a
    template-file option renders whatever it is given. A model card (YAML front
    matter) counts only if it parses and uses ``messages``: prose with a code
    sample is not a template any loader would take.
    """
    from llmcert.supplychain.scan._template import MAX_TEMPLATE, parses, uses_messages

    if not _JINJA_BLOCK.search(text):
        return False
    if card:
        return len(text) <= MAX_TEMPLATE and uses_messages(text)
    return "message" in text or (len(text) <= MAX_TEMPLATE and parses(text))


def _is_json(fh: IO[bytes]) -> bool:
    try:
        json.loads(fh.read(MAX_TEXT_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    finally:
        fh.seek(0)
    return True


def _is_python(text: str) -> bool:
    """Parses as Python and does something a prose file would not (import, def, class, call)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    code_nodes = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Call)
    return any(isinstance(node, code_nodes) for node in ast.walk(tree))


def has_zip_directory(fh: IO[bytes]) -> bool:
    """An end-of-central-directory record, as either zip reader would find it."""
    from llmcert.supplychain.scan._zip_views import find_eocd

    try:
        return zipfile.is_zipfile(fh) or find_eocd(fh) is not None
    finally:
        fh.seek(0)
