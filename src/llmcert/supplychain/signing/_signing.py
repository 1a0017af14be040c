"""Writing a signature folder, and verifying every signature in it with one public key."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcert._fileio import write_json_atomic
from llmcert.supplychain.identity import (
    DEFAULT_EXCLUDES,
    ArtefactError,
    ArtefactIdentity,
    TreeDigest,
    diff_manifests,
    digest_tree,
)
from llmcert.supplychain.signing import _oms
from llmcert.supplychain.signing._dsse import (
    PREDICATES,
    open_envelope,
    sign_envelope,
    statement,
    subject_digests,
)
from llmcert.supplychain.signing._keys import (
    PASSPHRASE_ENV,
    SigningError,
    load_private_key,
    load_public_key,
    passphrase_from_env,
)

__all__ = [
    "PASSPHRASE_ENV",
    "SignatureBundle",
    "SigningError",
    "VerificationFailure",
    "VerificationResult",
    "default_signature_dir",
    "sign_model",
    "verify_model",
]

MODEL_SIG = "model.sig"
_ENVELOPE = "{}.intoto.json"


def default_signature_dir(path: Path | str) -> Path:
    p = Path(path).absolute()
    return p.parent / f"{p.name}.signature"


@dataclass(frozen=True)
class SignatureBundle:
    """Where the signature and attestations of one model were written."""

    directory: Path
    model_signature: Path
    identity: Path
    attestations: dict[str, Path]
    root_digest: str


@dataclass(frozen=True)
class VerificationFailure:
    """One reason verification failed. ``kind`` is stable (for machines), ``reason`` is for people."""

    kind: str
    reason: str


@dataclass(frozen=True)
class VerificationResult:
    path: Path
    root_digest: str | None
    failures: tuple[VerificationFailure, ...]
    verified: tuple[str, ...] = field(default=())
    """What checked out: ``model-signature``, ``identity``, ``scan``, ``bom``."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def reasons(self) -> list[str]:
        return [f.reason for f in self.failures]


def _kind_of(doc: Mapping[str, Any]) -> str:
    return "bom" if doc.get("bomFormat") == "CycloneDX" else "scan"


def _recorded_digests(doc: Mapping[str, Any]) -> set[str]:
    """Root digests a BOM or report says it is about (none recorded: nothing to compare)."""
    found = {str(doc[k]) for k in ("root_digest", "artefact_digest") if doc.get(k)}
    for comp in doc.get("components") or []:
        if isinstance(comp, Mapping) and comp.get("type") == "machine-learning-model":
            for prop in comp.get("properties") or []:
                if isinstance(prop, Mapping) and prop.get("name") == "llmcert:root-digest":
                    found.add(str(prop.get("value")))
    return found


def _inside(model: Path, out: Path, names: Iterable[str]) -> list[str]:
    """Relative paths of the signature files that would sit inside a model folder."""
    if not model.is_dir():
        return []
    try:
        rel = out.resolve().relative_to(model.resolve())
    except ValueError:
        return []
    return sorted((rel / n).as_posix() for n in names)


def sign_model(
    path: Path | str,
    key: Path | str,
    *,
    attach: Iterable[Mapping[str, Any]] = (),
    output: Path | str | None = None,
    workers: int | None = None,
) -> SignatureBundle:
    """Sign the model at ``path`` with the ECDSA private key in PEM file ``key``.

    ``attach`` holds a scan report and/or a CycloneDX BOM (JSON documents); each
    becomes a signed attestation about the model's root digest. A document that
    records a different root digest is refused. An encrypted key's passphrase is
    read from ``$LLMCERT_KEY_PASSPHRASE`` only.
    """
    model, key_path = Path(path), Path(key)
    private = load_private_key(key_path)
    docs: dict[str, Mapping[str, Any]] = {}
    for doc in attach:
        kind = _kind_of(doc)
        if kind in docs:
            raise SigningError(f"more than one {kind} document attached")
        docs[kind] = doc
    out = Path(output) if output is not None else default_signature_dir(model)
    names = [MODEL_SIG, _ENVELOPE.format("identity")] + [_ENVELOPE.format(k) for k in docs]
    excluded = tuple(DEFAULT_EXCLUDES) + tuple(_inside(model, out, names))
    tree = digest_tree(model, workers=workers, exclude=excluded)
    for kind, doc in docs.items():
        recorded = _recorded_digests(doc)
        if recorded and tree.root not in recorded:
            raise SigningError(
                f"the {kind} document is about {', '.join(sorted(recorded))}, not this model ({tree.root})"
            )
    identity = ArtefactIdentity(name=model.absolute().name, tree=tree, excluded=excluded)
    out.mkdir(parents=True, exist_ok=True)
    _oms.sign(model, key_path, passphrase_from_env(), out / MODEL_SIG, excluded)
    _same_files(tree, _oms.signed_digests(out / MODEL_SIG))
    written: dict[str, Path] = {}
    for kind, predicate in [("identity", identity.to_json()), *docs.items()]:
        stmt = statement(identity.name, tree.root, PREDICATES[kind], predicate)
        target = out / _ENVELOPE.format(kind)
        write_json_atomic(target, sign_envelope(stmt, private))
        written[kind] = target
    return SignatureBundle(
        directory=out,
        model_signature=out / MODEL_SIG,
        identity=written.pop("identity"),
        attestations=written,
        root_digest=tree.root,
    )


def _same_files(tree: TreeDigest, signed: dict[str, str]) -> None:
    """Both signatures must cover the same bytes: the model may have changed between the reads."""
    ours = {f.path: f.digest.removeprefix("sha256:") for f in tree.files}
    same = set(signed.values()) == set(ours.values()) if tree.kind == "file" else signed == ours
    if not same:
        raise SigningError("the model changed while it was being signed; sign it again")


class _Checker:
    """Collects failures during one verification."""

    def __init__(self) -> None:
        self.failures: list[VerificationFailure] = []
        self.verified: list[str] = []

    def fail(self, kind: str, reason: str) -> None:
        self.failures.append(VerificationFailure(kind, reason))

    def envelope(self, path: Path, public: Any, label: str) -> dict[str, Any] | None:
        try:
            envelope = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.fail("attestation-malformed", f"{label} attestation cannot be read ({exc})")
            return None
        opened = open_envelope(envelope, public)
        if opened.statement is None:
            self.fail(
                opened.kind or "attestation-malformed", f"{label} attestation: {opened.problem}"
            )
            return None
        if opened.statement.get("predicateType") != PREDICATES[label]:
            self.fail(
                "attestation-malformed",
                f"{label} attestation has predicate type {opened.statement.get('predicateType')!r}",
            )
            return None
        return opened.statement


def _expected_identity(chk: _Checker, sig_dir: Path, public: Any) -> ArtefactIdentity | None:
    path = sig_dir / _ENVELOPE.format("identity")
    if not path.is_file():
        chk.fail("signature-missing", f"identity attestation missing: {path}")
        return None
    stmt = chk.envelope(path, public, "identity")
    if stmt is None:
        return None
    try:
        identity = ArtefactIdentity.from_json(stmt.get("predicate") or {})
    except ArtefactError as exc:
        chk.fail("attestation-malformed", f"identity attestation: {exc}")
        return None
    if identity.root_digest not in subject_digests(stmt):
        chk.fail(
            "attestation-subject-mismatch", "identity attestation subject is not its own manifest"
        )
        return None
    chk.verified.append("identity")
    return identity


def verify_model(
    path: Path | str,
    pubkey: Path | str,
    *,
    signature_dir: Path | str | None = None,
    workers: int | None = None,
) -> VerificationResult:
    """Check a model against its signature folder with the PEM public key ``pubkey``.

    Raises :class:`SigningError` only when verification cannot run (unreadable
    key); everything wrong with the model or its signatures is a failure in the
    result: file added/removed/changed (named), signature missing or invalid,
    wrong key, attestation subject mismatch, attestation signature invalid.
    """
    model = Path(path)
    sig_dir = Path(signature_dir) if signature_dir is not None else default_signature_dir(model)
    public = load_public_key(Path(pubkey))
    if not model.exists():
        raise ArtefactError("no such file or directory", path=model)
    chk = _Checker()
    if not sig_dir.is_dir():
        chk.fail("signature-missing", f"no signature folder at {sig_dir}")
        return VerificationResult(model, None, tuple(chk.failures))
    expected = _expected_identity(chk, sig_dir, public)
    excluded = (
        expected.excluded
        if expected
        else tuple(DEFAULT_EXCLUDES)
        + tuple(_inside(model, sig_dir, [p.name for p in sig_dir.iterdir()]))
    )
    try:
        actual: TreeDigest | None = digest_tree(model, workers=workers, exclude=excluded)
    except ArtefactError as exc:
        chk.fail("artefact-unreadable", str(exc))
        actual = None
    files_differ = False
    if expected is not None and actual is not None:
        diff = diff_manifests(expected.tree, actual)
        files_differ = bool(diff)
        for kind, paths in (
            ("file-added", diff.added),
            ("file-removed", diff.removed),
            ("file-changed", diff.changed),
        ):
            for p in paths:
                chk.fail(kind, f"{kind.replace('-', ' ')}: {p}")
    _check_model_signature(chk, model, Path(pubkey), sig_dir, excluded, files_differ)
    for label in ("scan", "bom"):
        env_path = sig_dir / _ENVELOPE.format(label)
        if not env_path.is_file():
            continue
        stmt = chk.envelope(env_path, public, label)
        if stmt is None or actual is None:
            continue
        subjects = subject_digests(stmt)
        if actual.root not in subjects:
            chk.fail(
                "attestation-subject-mismatch",
                f"{label} attestation is about {', '.join(subjects) or 'nothing'}, "
                f"not this model ({actual.root})",
            )
            continue
        chk.verified.append(label)
    return VerificationResult(
        model, actual.root if actual else None, tuple(chk.failures), tuple(chk.verified)
    )


def _check_model_signature(
    chk: _Checker,
    model: Path,
    pubkey: Path,
    sig_dir: Path,
    excluded: Iterable[str],
    files_differ: bool,
) -> None:
    bundle = sig_dir / MODEL_SIG
    if not bundle.is_file():
        chk.fail("signature-missing", f"OpenSSF model signature missing: {bundle}")
        return
    problem = _oms.verify(model, pubkey, bundle, list(excluded))
    if problem is None:
        chk.verified.append("model-signature")
    elif not (problem[0] == "content-mismatch" and files_differ):  # already named file by file
        chk.fail(*problem)
