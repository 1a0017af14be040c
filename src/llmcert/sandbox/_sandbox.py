"""The sandbox as callers use it: layers checked once, then one call per execution."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence

from llmcert.sandbox._layers import require_layers
from llmcert.sandbox._outcome import Execution
from llmcert.sandbox._policy import SandboxPolicy
from llmcert.sandbox._run import execute


class UnsandboxedExecution(UserWarning):
    """Model-written code is about to run on the host without isolation."""


class Sandbox:
    """Runs programs under one policy; refuses to exist if a layer is missing."""

    def __init__(self, policy: SandboxPolicy | None = None) -> None:
        self.policy = policy or SandboxPolicy()
        if self.policy.isolation == "none":
            message = (
                "RUNNING MODEL-WRITTEN CODE WITHOUT A SANDBOX "
                f"({self.policy.opt_out_reason or 'no reason given'}): it can read, write and "
                "send anything this user can. The results record this."
            )
            warnings.warn(message, UnsandboxedExecution, stacklevel=2)
            print(f"WARNING: {message}", file=sys.stderr)
        require_layers(self.policy)

    @classmethod
    def unsandboxed(cls, reason: str, policy: SandboxPolicy | None = None) -> Sandbox:
        """The explicit, loud opt-out: only rlimits, the deadline and the output cap remain."""
        if not reason.strip():
            raise ValueError("running without a sandbox needs a stated reason")
        base = policy or SandboxPolicy()
        return cls(base.model_copy(update={"isolation": "none", "opt_out_reason": reason}))

    @property
    def digest(self) -> str:
        return self.policy.digest()

    def run(
        self,
        program: str,
        tests: str = "",
        *,
        policy: SandboxPolicy | None = None,
        prelude: str = "",
        entry: Sequence[str] = (),
    ) -> Execution:
        """Run ``program`` and, apart from it, ``tests`` (see :func:`execute`); ``policy``
        overrides limits for this call only."""
        chosen = policy or self.policy
        if chosen.isolation != self.policy.isolation:
            raise ValueError("a call cannot change the sandbox's isolation")
        return execute(chosen, program, tests, prelude=prelude, entry=entry)
