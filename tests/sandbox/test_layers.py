"""Fail closed: a missing layer refuses, names itself and says how to install it."""

from __future__ import annotations

import pytest

from llmcert.errors import LlmcertError
from llmcert.sandbox import Sandbox, SandboxPolicy, SandboxUnavailable, _layers
from llmcert.sandbox._seccomp import SeccompUnavailable
from tests.sandbox.conftest import needs_root


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_layers, "_checked", set())


def test_missing_bubblewrap_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxUnavailable) as info:
        Sandbox()
    assert info.value.layer == "namespaces"
    assert "apt-get install bubblewrap" in str(info.value)
    assert isinstance(info.value, LlmcertError)


@needs_root
def test_missing_setpriv_refuses_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _layers.shutil.which
    monkeypatch.setattr(
        _layers.shutil, "which", lambda name: None if name == "setpriv" else real(name)
    )
    with pytest.raises(SandboxUnavailable) as info:
        Sandbox()
    assert info.value.layer == "user"
    assert "apt-get install util-linux" in str(info.value)


def test_missing_libseccomp_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**_: object) -> bytes:
        raise SeccompUnavailable("libseccomp.so.2: cannot open shared object file")

    monkeypatch.setattr(_layers, "seccomp_program", broken)
    with pytest.raises(SandboxUnavailable) as info:
        Sandbox()
    assert info.value.layer == "seccomp"
    assert "libseccomp2" in str(info.value)
    assert "pyseccomp" in str(info.value)


def test_unreadable_interpreter_refuses() -> None:
    with pytest.raises(SandboxUnavailable) as info:
        Sandbox(SandboxPolicy(python="/usr/bin/no-such-python"))
    assert info.value.layer == "interpreter"


def test_working_machine_passes_the_check() -> None:
    box = Sandbox()
    assert box.run("pass\n").passed


def test_policy_digest_covers_limits_and_isolation() -> None:
    base = SandboxPolicy()
    assert base.digest() == SandboxPolicy().digest()
    assert base.with_limits(cpu_seconds=5).digest() != base.digest()
    assert base.model_copy(update={"deny_inet_sockets": False}).digest() != base.digest()
