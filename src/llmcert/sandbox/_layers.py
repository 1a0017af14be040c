"""Fail closed: every layer is checked before the first execution, and a missing
one stops the run with its name and how to install it."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from threading import Lock

from llmcert.errors import LlmcertError
from llmcert.sandbox._outcome import Outcome
from llmcert.sandbox._policy import OPT_OUT_ENV, SandboxPolicy
from llmcert.sandbox._run import execute
from llmcert.sandbox._seccomp import SeccompUnavailable, seccomp_program


class SandboxUnavailable(LlmcertError):
    """A layer of the sandbox is missing, so llmcert refuses to run model-written code."""

    def __init__(self, layer: str, reason: str, install: str) -> None:
        self.layer, self.reason, self.install = layer, reason, install
        super().__init__(
            f"sandbox layer '{layer}' unavailable: {reason}. {install}. Refusing to run "
            f"model-written code without it (the explicit opt-out: {OPT_OUT_ENV}=REASON)."
        )


@dataclass(frozen=True)
class Layer:
    name: str
    what: str


#: The layers, in the order a sandboxed process meets them.
LAYERS: tuple[Layer, ...] = (
    Layer(
        "namespaces",
        "bubblewrap: new user, PID, network, IPC, UTS and mount namespaces; "
        "read-only root; private tmpfs work dir; dies with its parent",
    ),
    Layer("user", "an unprivileged user id without capabilities, no new privileges"),
    Layer(
        "seccomp",
        "BPF filter: no ptrace, mount, kexec, bpf, namespaces, io_uring; sockets AF_UNIX only",
    ),
    Layer("rlimits", "CPU seconds, address space, processes, file size, open files"),
    Layer("deadline", "outer wall-clock deadline killing the whole process tree"),
    Layer("output cap", "stdout and stderr together capped"),
)

_checked: set[str] = set()
_lock = Lock()


def require_layers(policy: SandboxPolicy) -> None:
    """Raise :class:`SandboxUnavailable` unless every layer of ``policy`` works here (cached)."""
    if policy.isolation == "none":
        return
    key = policy.digest()
    with _lock:
        if key in _checked:
            return
        _check(policy)
        _checked.add(key)


def _check(policy: SandboxPolicy) -> None:
    if sys.platform != "linux":
        raise SandboxUnavailable("namespaces", f"{sys.platform} is not Linux", "Run on Linux")
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable(
            "namespaces",
            "bubblewrap (bwrap) is not installed",
            "Install it: apt-get install bubblewrap",
        )
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        raise SandboxUnavailable(
            "user",
            "setpriv, which drops root before bubblewrap starts, is not installed",
            "Install it: apt-get install util-linux",
        )
    try:
        seccomp_program(deny_inet_sockets=policy.deny_inet_sockets)
    except SeccompUnavailable as exc:
        raise SandboxUnavailable(
            "seccomp",
            f"libseccomp cannot be loaded ({exc})",
            "Install it: apt-get install libseccomp2 && pip install pyseccomp",
        ) from exc
    if not os.access(policy.python, os.X_OK):
        raise SandboxUnavailable(
            "interpreter",
            f"{policy.python} is not an executable file",
            "Install Debian's python3 or point the policy's python at a world-readable interpreter",
        )
    probe = execute(policy.with_limits(cpu_seconds=5, wall_seconds=20), "", "")
    if probe.outcome is not Outcome.PASSED:
        detail = probe.detail or probe.stderr
        if "Can't find source path" in detail:
            raise SandboxUnavailable(
                "interpreter",
                detail,
                f"Point the policy's python at an interpreter readable by uid {policy.uid} "
                "(Debian's /usr/bin/python3 is)",
            )
        if "namespace" in detail or "uid map" in detail or "Operation not permitted" in detail:
            raise SandboxUnavailable(
                "namespaces",
                f"user namespaces are not permitted ({detail})",
                "Enable unprivileged user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 "
                "and user.max_user_namespaces > 0",
            )
        raise SandboxUnavailable(
            "namespaces",
            f"a trivial program did not run in the sandbox ({probe.outcome}: {detail})",
            f"Check that {policy.python} is readable by uid {policy.uid} and that bubblewrap works",
        )
