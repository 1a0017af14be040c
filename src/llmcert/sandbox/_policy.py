"""What a sandboxed execution may do: the limits and the isolation, as data.

The policy is part of every execution's cache key and of an assessment's
evidence (its digest), so a certificate can say under which isolation the
model's code ran.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llmcert._hashing import digest_json

Isolation = Literal["bubblewrap+seccomp", "none"]

#: The interpreter the sandboxed code runs on. It must be readable by the
#: unprivileged sandbox user, which a per-user install under /root is not.
DEFAULT_PYTHON = "/usr/bin/python3"
#: Environment variable holding the reason to run model-written code without the
#: sandbox: the one, explicit and recorded, opt-out.
OPT_OUT_ENV = "LLMCERT_UNSAFE_NO_SANDBOX"
#: The unprivileged user the sandboxed code runs as when llmcert runs as root.
NOBODY = 65534


class Limits(BaseModel):
    """Resource limits of one execution. CPU time, not wall time, decides a time limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_seconds: float = Field(4.0, gt=0, description="RLIMIT_CPU; exceeding it is a time limit.")
    wall_seconds: float | None = Field(
        None,
        gt=0,
        description="Outer deadline that kills the whole process tree; by default "
        "3 × CPU + 5 s, so a slow or shared machine never turns CPU-bounded code into a timeout.",
    )
    memory_bytes: int = Field(
        4 << 30, gt=0, description="RLIMIT_AS (EvalPlus uses min(4 GB, RAM))."
    )
    processes: int = Field(16, gt=0, description="RLIMIT_NPROC for the sandbox user.")
    file_bytes: int = Field(16 << 20, gt=0, description="RLIMIT_FSIZE: largest file it may write.")
    open_files: int = Field(64, gt=3, description="RLIMIT_NOFILE.")
    output_bytes: int = Field(1 << 20, gt=0, description="Cap on stdout + stderr together.")
    work_dir_bytes: int = Field(64 << 20, gt=0, description="Size of the private tmpfs work dir.")

    @property
    def deadline(self) -> float:
        return self.wall_seconds if self.wall_seconds is not None else 3 * self.cpu_seconds + 5.0


class SandboxPolicy(BaseModel):
    """Isolation plus limits. ``isolation="none"`` is the explicit, recorded opt-out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    isolation: Isolation = "bubblewrap+seccomp"
    limits: Limits = Field(default_factory=Limits)
    python: str = DEFAULT_PYTHON
    uid: int = Field(NOBODY, gt=0, description="Host user id when llmcert itself runs as root.")
    network: bool = Field(
        False, description="Always False outside the escape suite's layer checks."
    )
    deny_inet_sockets: bool = Field(
        True,
        description="seccomp refuses sockets other than AF_UNIX (lifted only to test the netns).",
    )
    opt_out_reason: str | None = None

    def with_limits(self, **changes: object) -> SandboxPolicy:
        return self.model_copy(update={"limits": self.limits.model_copy(update=changes)})

    def digest(self) -> str:
        """Digest of everything that could change an execution's outcome."""
        from llmcert.sandbox._run import harness_version
        from llmcert.sandbox._seccomp import SECCOMP_VERSION

        data = self.model_dump(mode="json")
        data["seccomp"] = SECCOMP_VERSION
        data["harness"] = harness_version()
        return digest_json(data)
