"""Zip containers: PyTorch checkpoints (``*/data.pkl`` + storages) and NumPy ``.npz``.

Every ``.pkl`` member is judged as a pickle; other members are classified by
their bytes (so a pickle hidden under another name is still found), except the
raw tensor storages under a PyTorch archive's ``data/`` folder.
"""

from __future__ import annotations

import zipfile
from typing import IO, Final

from llmcert.supplychain.scan import _formats as fmt
from llmcert.supplychain.scan._findings import FindingSink, Severity
from llmcert.supplychain.scan._numpy import scan_npy
from llmcert.supplychain.scan._pickle_judge import PickleVerdict, judge_pickle

ENGINE = "zip-structure"
MAX_MEMBERS: Final = 100_000
MAX_RATIO: Final = 200
RATIO_FLOOR: Final = 100 << 20
#: Members above this uncompressed size are not opened (pickles are small; storages are skipped).
MAX_MEMBER_SCAN: Final = 4 << 30

PYTORCH_ZIP, NPZ = "pytorch-zip", "numpy-npz"


def scan_zip(fh: IO[bytes], sink: FindingSink) -> tuple[str, list[PickleVerdict]]:
    """Scan the archive's members; return the refined format and the pickle verdicts."""
    verdicts: list[PickleVerdict] = []
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        sink.add("LLMC-ZIP-001", f"not a readable zip: {exc}", engine=ENGINE)
        return fmt.ZIP, verdicts
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            sink.add(
                "LLMC-ZIP-001",
                f"{len(infos)} members exceed the limit {MAX_MEMBERS}",
                engine=ENGINE,
            )
            return fmt.ZIP, verdicts
        roots = {i.filename[: -len("data.pkl")] for i in infos if i.filename.endswith("data.pkl")}
        kinds: list[str] = []
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
                sink.add(
                    "LLMC-ZIP-001",
                    f"member path escapes the archive: {name}",
                    engine=ENGINE,
                    severity=Severity.MEDIUM,
                    member=name,
                )
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                sink.add(
                    "LLMC-ZIP-001",
                    f"member expands {info.file_size // max(info.compress_size, 1)}x (zip bomb?)",
                    engine=ENGINE,
                    member=name,
                )
                continue
            if any(name.startswith(root + "data/") for root in roots):
                kinds.append("storage")
                continue
            if info.file_size > MAX_MEMBER_SCAN:
                sink.add(
                    "LLMC-FMT-002",
                    f"member of {info.file_size} bytes not scanned",
                    engine=ENGINE,
                    member=name,
                )
                continue
            kind = _scan_member(zf, info, sink, verdicts)
            kinds.append(kind)
    if roots:
        return PYTORCH_ZIP, verdicts
    if kinds and all(k == fmt.NPY for k in kinds):
        return NPZ, verdicts
    return fmt.ZIP, verdicts


def _scan_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, sink: FindingSink, verdicts: list[PickleVerdict]
) -> str:
    name = info.filename
    try:
        with zf.open(info) as member:
            kind = fmt.sniff(member, info.file_size)
            if name.endswith(".pkl") or kind in (fmt.PICKLE, fmt.LEGACY_TORCH):
                verdicts.append(
                    judge_pickle(member, sink, start=0, end=info.file_size, member=name)
                )
                return fmt.PICKLE
            if kind == fmt.NPY:
                verdict = scan_npy(member, info.file_size, sink, member=name)
                if verdict is not None:
                    verdicts.append(verdict)
            elif kind == fmt.ZIP:
                sink.add("LLMC-FMT-002", "nested archive not scanned", engine=ENGINE, member=name)
            return kind
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        sink.add("LLMC-ZIP-001", f"member cannot be read: {exc}", engine=ENGINE, member=name)
        return fmt.UNKNOWN
