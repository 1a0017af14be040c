"""Send a byte stream to the checker of every format a loader could read it as.

The same dispatch serves files on disk and content inside containers (zip and
tar members, decompressed streams), so a pickle is judged the same way at any
depth. Containers hand their members back here one level deeper; past
``MAX_DEPTH`` the member is reported as not scanned, which blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Final

from llmcert.supplychain.scan import _formats as fmt
from llmcert.supplychain.scan._findings import FindingSink, Severity
from llmcert.supplychain.scan._gguf import scan_gguf
from llmcert.supplychain.scan._hf import flag_python, scan_json, scan_model_card, scan_template_file
from llmcert.supplychain.scan._keras import scan_keras_h5
from llmcert.supplychain.scan._numpy import scan_npy
from llmcert.supplychain.scan._onnx import scan_onnx
from llmcert.supplychain.scan._pickle_judge import PickleVerdict, judge_pickle
from llmcert.supplychain.scan._safetensors import scan_safetensors
from llmcert.supplychain.scan._template import TemplateInfo, analyse_template

ENGINE = "format"
#: How deep archives and compressed streams may nest before a member blocks unscanned.
MAX_DEPTH: Final = 4
#: Pickles in legacy ``torch.save`` files: magic, protocol, sys info, data, storage keys.
LEGACY_TORCH_STREAMS: Final = 5


@dataclass
class StreamResult:
    format: str
    verdicts: list[PickleVerdict] = field(default_factory=list)
    metadata: dict[str, str | int | float | bool] = field(default_factory=dict)
    """Declared metadata (GGUF, safetensors, configs, model cards) for provenance."""
    templates: dict[str, TemplateInfo] = field(default_factory=dict)


def scan_stream(
    fh: IO[bytes],
    size: int,
    sink: FindingSink,
    *,
    member: str | None = None,
    depth: int = 0,
    force_pickle: bool = False,
) -> StreamResult:
    """Detect the formats of ``fh`` and run each one's checker; findings go to ``sink``."""
    found = fmt.detect(fh, size, other_views=depth == 0)
    kinds = found.all
    if force_pickle and not {fmt.PICKLE, fmt.LEGACY_TORCH} & set(kinds):
        kinds = [fmt.PICKLE, *kinds]  # the loader of a ``.pkl`` member unpickles whatever it is
    result = StreamResult(kinds[0])
    if depth > MAX_DEPTH and found.primary in (fmt.ZIP, fmt.TAR, fmt.COMPRESSED):
        sink.add(
            "LLMC-FMT-002",
            f"{found.primary} nested more than {MAX_DEPTH} levels deep: not scanned",
            engine=ENGINE,
            member=member,
            severity=Severity.HIGH,
        )
        return result
    if fmt.ZIP in found.also and found.primary != fmt.SAFETENSORS:
        sink.add(
            "LLMC-FMT-003",
            f"{found.primary} file also has a zip central directory: zip readers see other content",
            engine=ENGINE,
            member=member,
        )
    for kind in kinds:
        refined = _check(kind, fh, size, sink, result, member=member, depth=depth, found=found)
        if kind == kinds[0]:
            result.format = refined
    return result


def _check(
    kind: str,
    fh: IO[bytes],
    size: int,
    sink: FindingSink,
    result: StreamResult,
    *,
    member: str | None,
    depth: int,
    found: fmt.Detection,
) -> str:
    """Run one format's checker; returns the format, refined where the checker knows better."""
    if kind == fmt.ZIP:
        from llmcert.supplychain.scan._zip import scan_zip

        refined, verdicts = scan_zip(fh, sink, member=member, depth=depth)
        result.verdicts.extend(verdicts)
        return refined
    if kind in (fmt.TAR, fmt.COMPRESSED):
        from llmcert.supplychain.scan._tar import scan_compressed, scan_tar

        scanner = scan_tar if kind == fmt.TAR else scan_compressed
        refined, verdicts = scanner(fh, size, sink, member=member, depth=depth)
        result.verdicts.extend(verdicts)
        return refined
    if kind in (fmt.PICKLE, fmt.LEGACY_TORCH):
        streams = LEGACY_TORCH_STREAMS if kind == fmt.LEGACY_TORCH else None
        result.verdicts.append(
            judge_pickle(fh, sink, start=0, end=size, member=member, expected_streams=streams)
        )
    elif kind == fmt.NPY:
        verdict = scan_npy(fh, size, sink, member=member)
        result.verdicts.extend([verdict] if verdict else [])
    elif kind == fmt.SAFETENSORS:
        result.metadata.update(scan_safetensors(fh, size, sink, also_zip=fmt.ZIP in found.also))
    elif kind == fmt.GGUF:
        gguf = scan_gguf(fh, size, sink, member=member)
        result.metadata.update(gguf.metadata)
        for key, source in gguf.templates.items():
            result.templates[key] = analyse_template(source, sink, where=key, member=member)
    elif kind == fmt.JSON_DOC and size > fmt.MAX_TEXT_BYTES:
        sink.add(
            "LLMC-FMT-002",
            f"JSON document of {size} bytes is over the {fmt.MAX_TEXT_BYTES}-byte parsing limit",
            engine=ENGINE,
            member=member,
        )
    elif kind == fmt.JSON_DOC:
        declared, templates = scan_json(fh, sink, member=member)
        result.metadata.update(declared)
        result.templates.update(templates)
    elif kind == fmt.MODEL_CARD:
        result.metadata.update(scan_model_card(fh))
    elif kind == fmt.JINJA:
        result.templates["template"] = scan_template_file(fh, sink, member=member)
    elif kind == fmt.HDF5:
        scan_keras_h5(fh, size, sink, member=member)
    elif kind == fmt.ONNX:
        scan_onnx(fh, size, sink, member=member)
    elif kind == fmt.PYTHON:
        fh.seek(0)
        flag_python(sink, fh.read(4096), member=member)
    elif kind == fmt.UNKNOWN:
        sink.add(
            "LLMC-FMT-001",
            f"{size} bytes of unrecognised binary data",
            engine=ENGINE,
            member=member,
        )
    return kind
