"""The walk over a model file or directory and the dispatch of each file to its checker."""

from __future__ import annotations

import os
import platform
from collections import Counter
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Final

from llmcert._hashing import digest_file
from llmcert.errors import SupplyChainError
from llmcert.supplychain.scan import _formats as fmt
from llmcert.supplychain.scan._dispatch import scan_stream
from llmcert.supplychain.scan._findings import Finding, FindingSink, Severity
from llmcert.supplychain.scan._hf import flag_python
from llmcert.supplychain.scan._provenance import check_agreement, provenance
from llmcert.supplychain.scan._report import ScannedFile, ScanReport, ScanSummary

MAX_FILES: Final = 100_000
#: Directories never worth scanning as model content.
SKIP_DIRS: Final = frozenset({".git", ".hg", ".svn", "__pycache__"})


def scan_path(path: Path | str, *, fail_on: Severity | str = Severity.HIGH) -> ScanReport:
    """Scan a model file or a directory of model files.

    Raises :class:`SupplyChainError` if ``path`` does not exist or is neither a
    file nor a directory; problems inside files are findings, never exceptions.
    """
    target = Path(path)
    threshold = Severity(fail_on)
    if not target.exists():
        raise SupplyChainError(f"{target}: no such file or directory")
    if target.is_file():
        root, files = target.parent, [target]
    elif target.is_dir():
        root, files = target, list(_walk(target))
    else:
        raise SupplyChainError(f"{target}: not a regular file or directory")

    root_sink = FindingSink(target.name if target.is_file() else ".")
    if len(files) > MAX_FILES:
        root_sink.add(
            "LLMC-FMT-002", f"{len(files)} files; only the first {MAX_FILES} scanned", engine="walk"
        )
        files = files[:MAX_FILES]
    scanned: list[ScannedFile] = []
    findings: list[Finding] = []
    for file in files:
        entry, sink = _scan_file(file, file.relative_to(root).as_posix())
        scanned.append(entry)
        findings.extend(sink.findings)
    if scanned:
        check_agreement({f.path: f.provenance for f in scanned}, root_sink)
    findings.extend(root_sink.findings)

    findings = [
        f.model_copy(update={"blocking": f.severity.rank >= threshold.rank}) for f in findings
    ]
    return ScanReport(
        root=str(root),
        fail_on=threshold,
        files=scanned,
        findings=findings,
        summary=ScanSummary(
            files=len(scanned),
            findings=len(findings),
            blocking=sum(f.blocking for f in findings),
            by_severity=dict(Counter(f.severity.value for f in findings)),
            by_format=dict(Counter(f.format for f in scanned)),
        ),
        tools=tool_versions(),
    )


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("llmcert", "fickling", "gguf", "jinja2", "numpy", "ijson"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _walk(root: Path) -> Iterator[Path]:
    for current, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(names):
            path = Path(current) / name
            if path.is_file():  # follows file links (Hugging Face caches use them)
                yield path


def _scan_file(path: Path, rel: str) -> tuple[ScannedFile, FindingSink]:
    sink = FindingSink(rel)
    entry = ScannedFile(path=rel, format=fmt.UNKNOWN, size=0, sha256="")
    try:
        size = path.stat().st_size
        entry = ScannedFile(path=rel, format=fmt.UNKNOWN, size=size, sha256=digest_file(path))
        with path.open("rb") as fh:
            result = scan_stream(fh, size, sink)
            entry.format = result.format
            entry.pickles = result.verdicts
            entry.provenance = provenance(result.metadata)
            for key, info in result.templates.items():
                entry.chat_templates[key] = info.sha256 + (
                    f" ({info.known_as})" if info.known_as else ""
                )
    except OSError as exc:
        sink.add("LLMC-FMT-002", f"cannot read: {exc.strerror or exc}", engine="walk")
        return entry, sink
    except Exception as exc:  # fail closed: a file we could not judge is not a clean file
        sink.add(
            "LLMC-FMT-002",
            f"scanner error {type(exc).__name__}: {exc}",
            engine="walk",
            severity=Severity.HIGH,
        )
    if entry.format != fmt.PYTHON and rel.endswith(".py") and entry.size:
        with path.open("rb") as fh:
            flag_python(sink, fh.read(4096))
    return entry, sink
