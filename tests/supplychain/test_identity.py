"""Content identity: file digests equal hashlib, tree digests move with every change."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import pytest

from llmcert import supplychain
from llmcert.errors import IdentityChanged
from llmcert.supplychain import identity as identity_mod
from llmcert.supplychain.identity import (
    ArtefactError,
    ArtefactIdentity,
    diff_manifests,
    digest_file,
    digest_tree,
    identify,
)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size", [0, 1, 4095, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 17])
def test_digest_file_equals_hashlib(tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert digest_file(path) == _sha(data)
    assert digest_file(path, buffer_size=4096) == _sha(data)


def _model_dir(root: Path) -> Path:
    rng = random.Random(7)
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "config.json").write_text('{"a": 1}')
    (root / "weights.bin").write_bytes(rng.randbytes(200_000))
    (root / "sub" / "tokenizer.json").write_text("{}")
    (root / "sub" / "deeper" / "empty").write_bytes(b"")
    return root


def test_single_file_is_a_tree_of_one_with_its_own_digest(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + bytes(100))
    tree = digest_tree(path)
    assert tree.kind == "file"
    assert tree.root == _sha(b"GGUF" + bytes(100))
    assert [(f.path, f.size) for f in tree.files] == [("model.gguf", 104)]
    renamed = tmp_path / "other.gguf"
    path.rename(renamed)
    assert digest_tree(renamed).root == tree.root  # the name is not the content


def test_tree_lists_every_file_with_posix_paths(tmp_path: Path) -> None:
    tree = digest_tree(_model_dir(tmp_path / "m"))
    assert tree.kind == "directory"
    assert [f.path for f in tree.files] == [
        "config.json",
        "sub/deeper/empty",
        "sub/tokenizer.json",
        "weights.bin",
    ]
    assert tree.by_path()["sub/deeper/empty"].digest == _sha(b"")
    assert tree.size == sum(f.size for f in tree.files)


def test_tree_digest_does_not_depend_on_creation_order(tmp_path: Path) -> None:
    names = [f"f{i}" for i in range(12)]
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for n in names:
        (a / n).write_text(n)
    for n in reversed(names):
        (b / n).write_text(n)
    assert digest_tree(a).root == digest_tree(b).root


def test_parallel_equals_serial(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    for i in range(20):
        (root / f"shard-{i}.bin").write_bytes(os.urandom(10_000 + i))
    assert digest_tree(root, workers=1) == digest_tree(root, workers=8)


@pytest.mark.parametrize("change", ["byte", "rename", "add", "remove", "move", "empty_add"])
def test_any_change_moves_the_root(tmp_path: Path, change: str) -> None:
    root = _model_dir(tmp_path / "m")
    before = digest_tree(root)
    if change == "byte":
        data = bytearray((root / "weights.bin").read_bytes())
        data[123_456] ^= 1
        (root / "weights.bin").write_bytes(bytes(data))
    elif change == "rename":
        (root / "config.json").rename(root / "config2.json")
    elif change == "add":
        (root / "extra.txt").write_text("x")
    elif change == "remove":
        (root / "sub" / "tokenizer.json").unlink()
    elif change == "move":
        (root / "sub" / "tokenizer.json").rename(root / "tokenizer.json")
    else:
        (root / "sub" / "deeper" / "empty2").write_bytes(b"")
    after = digest_tree(root)
    assert after.root != before.root
    diff = diff_manifests(before, after)
    assert diff
    expected = {
        "byte": ((), (), ("weights.bin",)),
        "rename": (("config2.json",), ("config.json",), ()),
        "add": (("extra.txt",), (), ()),
        "remove": ((), ("sub/tokenizer.json",), ()),
        "move": (("tokenizer.json",), ("sub/tokenizer.json",), ()),
        "empty_add": (("sub/deeper/empty2",), (), ()),
    }[change]
    assert (diff.added, diff.removed, diff.changed) == expected


def test_symlinks_are_refused_by_name_unless_allowed(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    (root / "link.bin").symlink_to(root / "weights.bin")
    with pytest.raises(ArtefactError, match=r"link\.bin.*symbolic link"):
        digest_tree(root)
    tree = digest_tree(root, allow_symlinks=True)
    assert tree.by_path()["link.bin"].digest == tree.by_path()["weights.bin"].digest


def test_dangling_link_and_folder_link_are_refused(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    (root / "gone").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ArtefactError, match="gone"):
        digest_tree(root, allow_symlinks=True)
    (root / "gone").unlink()
    (root / "dirlink").symlink_to(root / "sub")
    with pytest.raises(ArtefactError, match="dirlink"):
        digest_tree(root, allow_symlinks=True)


def test_special_files_are_refused(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    os.mkfifo(root / "pipe")
    with pytest.raises(ArtefactError, match=r"pipe.*named pipe"):
        digest_tree(root)
    with pytest.raises(ArtefactError, match="named pipe"):
        digest_tree(root / "pipe")


def test_missing_path_is_an_artefact_error(tmp_path: Path) -> None:
    with pytest.raises(ArtefactError, match="no such file"):
        digest_tree(tmp_path / "absent")


def test_git_metadata_is_excluded_by_default(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    before = digest_tree(root)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert digest_tree(root).root == before.root
    assert digest_tree(root, exclude=()).root != before.root


def test_identity_manifest_round_trips_and_is_self_checking(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    ident = identify(root)
    data = json.loads(json.dumps(ident.to_json()))
    assert data["schema"] == identity_mod.MANIFEST_SCHEMA
    back = ArtefactIdentity.from_json(data)
    assert back == ident
    data["files"][0]["digest"] = _sha(b"forged")
    with pytest.raises(ArtefactError, match="inconsistent"):
        ArtefactIdentity.from_json(data)


def test_ensure_unchanged_names_the_changed_file(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    ident = identify(root)
    ident.ensure_unchanged(root)
    (root / "config.json").write_text('{"a": 2}')
    with pytest.raises(IdentityChanged, match=r"file changed: config\.json"):
        ident.ensure_unchanged(root)


def test_single_file_identity_check(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"abc")
    ident = identify(path)
    assert not ident.check(path)
    path.write_bytes(b"abd")
    assert ident.check(path).changed == ("model.gguf",)


def test_public_names_are_exported() -> None:
    for name in identity_mod.__all__:
        assert hasattr(identity_mod, name), name
    assert supplychain.__doc__
