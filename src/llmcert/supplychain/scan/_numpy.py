"""NumPy ``.npy`` headers: a Python literal, then either raw data or a pickle.

An array with object dtype is stored as a pickle and can only be loaded with
``allow_pickle=True``; that pickle is judged by both engines like any other.
"""

from __future__ import annotations

import ast
import io
import math
import struct
import tokenize
from typing import IO, Any, Final

from llmcert.supplychain.scan._findings import FindingSink
from llmcert.supplychain.scan._pickle_judge import PickleVerdict, judge_pickle

ENGINE = "npy-header"
#: NumPy refuses headers above 10,000 bytes, but not when ``allow_pickle=True``.
MAX_HEADER: Final = 10_000
#: The longest header read at all (a longer one blocks as not fully scanned).
MAX_READ_HEADER: Final = 64 << 20


def scan_npy(
    fh: IO[bytes], size: int, sink: FindingSink, *, member: str | None = None
) -> PickleVerdict | None:
    """Read the header as leniently as ``numpy.load(allow_pickle=True)``, then judge the content.

    An anomaly NumPy itself tolerates (a long header, a negative dimension, a
    Python 2 ``1L``) is reported, but never stops the pickle of an object array
    from being judged.
    """

    def note(evidence: str, rule: str = "LLMC-NPY-002", **kw: Any) -> None:
        sink.add(rule, evidence, engine=ENGINE, member=member, **kw)

    fh.seek(0)
    head = fh.read(10)
    major = head[6] if len(head) > 6 else 0
    if len(head) < 10 or major not in (1, 2, 3):
        note(f"unsupported .npy version {major}")
        return None
    if major == 1:
        (length,), prefix = struct.unpack("<H", head[8:10]), 10
    else:
        (length,), prefix = struct.unpack("<I", head[8:10] + fh.read(2)), 12
    if prefix + length > size:
        note(f"header length {length} runs past the end of the file")
        return None
    if length > MAX_READ_HEADER:
        note(f"header of {length} bytes not read", "LLMC-FMT-002")
        return None
    if length > MAX_HEADER:
        note(f"header length {length} is above NumPy's limit (lifted by allow_pickle=True)")
    raw = fh.read(length)
    header = _literal(raw.decode("utf-8" if major == 3 else "latin1", "replace"), major)
    if header is None:
        note(f"header is not a valid literal: {raw[:60]!r}")
        return None
    data_start = prefix + length
    dtype = _dtype(header.get("descr"))
    shape = header.get("shape")
    if dtype is None or not isinstance(shape, tuple) or not all(type(d) is int for d in shape):
        note(f"bad descr/shape in header {str(header)[:80]}")
        return None
    if any(d < 0 for d in shape):
        note(f"negative dimension in shape {shape}")
    if dtype.hasobject:  # numpy unpickles before it looks at the shape
        note(
            f"descr {header['descr']!r}: the data is a pickle (needs allow_pickle=True)",
            "LLMC-NPY-001",
            offset=data_start,
        )
        return judge_pickle(fh, sink, start=data_start, end=size, member=member)
    expected = math.prod(shape) * dtype.itemsize
    if size - data_start != expected and all(d >= 0 for d in shape):
        note(f"data has {size - data_start} bytes, {dtype.str}{shape} needs {expected}")
    return None


def _literal(text: str, major: int) -> dict[str, Any] | None:
    """``ast.literal_eval`` as NumPy calls it, retried without ``L`` suffixes for versions 1-2."""
    value = _eval(text)
    if value is None and major <= 2:
        value = _eval(_drop_long_suffix(text))
    if not isinstance(value, dict) or set(value) != {"descr", "fortran_order", "shape"}:
        return None
    return value


def _eval(text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def _drop_long_suffix(text: str) -> str:
    """Python 2 wrote ``(3L, 4L)``; NumPy drops an ``L`` name that follows a number."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    out: list[tuple[int, str]] = []
    previous = None
    for token in tokens:
        if token.type == tokenize.NAME and token.string == "L" and previous == tokenize.NUMBER:
            continue
        out.append((token.type, token.string))
        previous = token.type
    return tokenize.untokenize(out)


def _dtype(descr: Any) -> Any:
    """NumPy's own descr parser (it only builds dtypes), or None when it refuses."""
    import numpy as np
    from numpy.lib.format import descr_to_dtype

    try:
        dtype = descr_to_dtype(descr)
    except (TypeError, ValueError, KeyError, IndexError, RecursionError):
        return None
    return dtype if isinstance(dtype, np.dtype) else None
