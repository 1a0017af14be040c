"""NumPy ``.npy`` headers: a Python literal, then either raw data or a pickle.

An array with object dtype is stored as a pickle and can only be loaded with
``allow_pickle=True``; that pickle is judged by both engines like any other.
"""

from __future__ import annotations

import ast
import math
import struct
from typing import IO, Any, Final

from llmcert.supplychain.scan._findings import FindingSink
from llmcert.supplychain.scan._pickle_judge import PickleVerdict, judge_pickle

ENGINE = "npy-header"
#: NumPy itself refuses headers above 10,000 bytes unless told otherwise.
MAX_HEADER: Final = 10_000


def scan_npy(
    fh: IO[bytes], size: int, sink: FindingSink, *, member: str | None = None
) -> PickleVerdict | None:
    """Check the header and data size; judge the pickle of an object array."""
    fh.seek(0)
    head = fh.read(10)
    major = head[6] if len(head) > 6 else 0
    if len(head) < 10 or major not in (1, 2, 3):
        sink.add("LLMC-NPY-002", f"unsupported .npy version {major}", engine=ENGINE, member=member)
        return None
    if major == 1:
        (length,), prefix = struct.unpack("<H", head[8:10]), 10
    else:
        (length,), prefix = struct.unpack("<I", head[8:10] + fh.read(2)), 12
    if length > MAX_HEADER or prefix + length > size:
        sink.add(
            "LLMC-NPY-002", f"header length {length} is too large", engine=ENGINE, member=member
        )
        return None
    raw = fh.read(length)
    header = _literal(raw.decode("utf-8" if major == 3 else "latin1", "replace"))
    if header is None:
        sink.add(
            "LLMC-NPY-002",
            f"header is not a valid literal: {raw[:60]!r}",
            engine=ENGINE,
            member=member,
        )
        return None
    data_start = prefix + length
    dtype = _dtype(header.get("descr"))
    shape = header.get("shape")
    if (
        dtype is None
        or not isinstance(shape, tuple)
        or not all(isinstance(d, int) and d >= 0 for d in shape)
    ):
        sink.add(
            "LLMC-NPY-002",
            f"bad descr/shape in header {str(header)[:80]}",
            engine=ENGINE,
            member=member,
        )
        return None
    if dtype.hasobject:
        sink.add(
            "LLMC-NPY-001",
            f"descr {header['descr']!r}: the data is a pickle (needs allow_pickle=True)",
            engine=ENGINE,
            member=member,
            offset=data_start,
        )
        return judge_pickle(fh, sink, start=data_start, end=size, member=member)
    expected = math.prod(shape) * dtype.itemsize
    if size - data_start != expected:
        sink.add(
            "LLMC-NPY-002",
            f"data has {size - data_start} bytes, {dtype.str}{shape} needs {expected}",
            engine=ENGINE,
            member=member,
        )
    return None


def _literal(text: str) -> dict[str, Any] | None:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(value, dict) or not {"descr", "fortran_order", "shape"} <= set(value):
        return None
    return value


def _dtype(descr: Any) -> Any:
    """NumPy's own descr parser (it only builds dtypes), or None when it refuses."""
    import numpy as np
    from numpy.lib.format import descr_to_dtype

    try:
        dtype = descr_to_dtype(descr)
    except (TypeError, ValueError, KeyError, IndexError, RecursionError):
        return None
    return dtype if isinstance(dtype, np.dtype) else None
