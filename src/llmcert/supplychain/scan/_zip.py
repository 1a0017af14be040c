"""Zip containers: PyTorch checkpoints, NumPy ``.npz``, Keras ``.keras``, and any other zip.

The archive is read twice, as ``zipfile`` reads it and as miniz (PyTorch's
reader) reads it; the union of both views is scanned and a difference between
them is critical. Every member is handed back to the dispatcher one level
deeper (``*.pkl`` members are always judged as pickles), except the raw tensor
storages under a PyTorch archive's ``data/`` folder.
"""

from __future__ import annotations

import io
import zipfile
from typing import IO, Final

from llmcert.supplychain.scan import _formats as fmt
from llmcert.supplychain.scan import _zip_views as views
from llmcert.supplychain.scan._findings import FindingSink, Severity
from llmcert.supplychain.scan._pickle_judge import PickleVerdict

ENGINE = "zip-structure"
MAX_MEMBERS: Final = views.MAX_ENTRIES
MAX_RATIO: Final = 200
RATIO_FLOOR: Final = 100 << 20
#: Members above this uncompressed size are not opened (pickles are small; storages are skipped).
MAX_MEMBER_SCAN: Final = 4 << 30

PYTORCH_ZIP, NPZ, KERAS = "pytorch-zip", "numpy-npz", "keras-v3"


def scan_zip(
    fh: IO[bytes], sink: FindingSink, *, member: str | None = None, depth: int = 0
) -> tuple[str, list[PickleVerdict]]:
    """Scan both readers' members; return the refined format and the pickle verdicts."""
    verdicts: list[PickleVerdict] = []

    def add(rule: str, evidence: str, *, inner: str | None = None, **kw: object) -> None:
        where = "/".join(p for p in (member, inner) if p) or None
        sink.add(rule, evidence, engine=ENGINE, member=where, **kw)  # type: ignore[arg-type]

    try:
        zf: zipfile.ZipFile | None = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        add("LLMC-ZIP-001", f"zipfile cannot read the archive: {exc}")
        zf = None
    try:
        miniz: list[views.Entry] | None = views.miniz_view(fh)
    except (views.ZipViewError, OSError, ValueError, IndexError) as exc:
        miniz = None
        if zf is not None:
            add("LLMC-ZIP-001", f"miniz view of the archive is unreadable: {exc}")
    python = views.zipfile_view(zf) if zf is not None else []
    if zf is not None and miniz is not None:
        for difference in views.differences(python, miniz)[:20]:
            add("LLMC-ZIP-002", difference, severity=Severity.CRITICAL)
    entries = sorted(set(python) | set(miniz or []))
    if len(entries) > MAX_MEMBERS:
        add("LLMC-ZIP-001", f"{len(entries)} members exceed the limit {MAX_MEMBERS}")
        return fmt.ZIP, verdicts

    names = {e.name for e in entries}
    roots = {n[: -len("data.pkl")] for n in names if n.endswith("data.pkl")}
    by_zipfile = {
        (i.header_offset, i.filename): i for i in (zf.infolist() if zf is not None else [])
    }
    kinds: list[str] = []
    for entry in entries:
        name = entry.name
        if name.endswith("/") and entry.file_size == 0:
            continue
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
            add("LLMC-ZIP-001", f"member path escapes the archive: {name}", inner=name,
                severity=Severity.MEDIUM)  # fmt: skip
        if entry.file_size > RATIO_FLOOR and entry.file_size > MAX_RATIO * max(
            entry.compress_size, 1
        ):
            ratio = entry.file_size // max(entry.compress_size, 1)
            add("LLMC-ZIP-001", f"member expands {ratio}x (zip bomb?)", inner=name)
            continue
        if any(name.startswith(root + "data/") for root in roots):
            kinds.append("storage")
            continue
        if entry.file_size > MAX_MEMBER_SCAN:
            add("LLMC-FMT-002", f"member of {entry.file_size} bytes not scanned", inner=name,
                severity=Severity.HIGH)  # fmt: skip
            continue
        info = by_zipfile.get((entry.header_offset, name))
        kinds.append(_scan_member(fh, zf, info, entry, sink, verdicts, member, depth))
    if roots:
        return PYTORCH_ZIP, verdicts
    if "config.json" in names and ("metadata.json" in names or "model.weights.h5" in names):
        return KERAS, verdicts
    if kinds and all(k == fmt.NPY for k in kinds):
        return NPZ, verdicts
    return fmt.ZIP, verdicts


def _scan_member(
    fh: IO[bytes],
    zf: zipfile.ZipFile | None,
    info: zipfile.ZipInfo | None,
    entry: views.Entry,
    sink: FindingSink,
    verdicts: list[PickleVerdict],
    outer: str | None,
    depth: int,
) -> str:
    from llmcert.supplychain.scan._dispatch import scan_stream

    where = "/".join(p for p in (outer, entry.name) if p)
    try:
        member = _open(fh, zf, info, entry)
    except Exception as exc:  # encrypted, unknown method, header mismatch: not judged, so it blocks
        sink.add(
            "LLMC-FMT-002",
            f"member cannot be read: {type(exc).__name__}: {exc}",
            engine=ENGINE,
            member=where,
            severity=Severity.HIGH,
        )
        return fmt.UNKNOWN
    with member:
        result = scan_stream(
            member,
            entry.file_size,
            sink,
            member=where,
            depth=depth + 1,
            force_pickle=entry.name.endswith(".pkl"),
        )
    verdicts.extend(result.verdicts)
    return result.format


def _open(
    fh: IO[bytes], zf: zipfile.ZipFile | None, info: zipfile.ZipInfo | None, entry: views.Entry
) -> IO[bytes]:
    """The member as zipfile reads it, or else as miniz extracts it (what ``torch.load`` reads)."""
    if zf is not None and info is not None:
        try:
            return zf.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, ValueError):
            pass  # e.g. the local header's name differs from the directory's: miniz does not care
    return io.BytesIO(views.read_entry(fh, entry))
