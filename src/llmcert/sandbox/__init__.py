"""Run untrusted, model-written Python in layers that each stand on their own.

bubblewrap namespaces (user, PID, network, IPC, UTS, mount; read-only root,
private tmpfs work dir, dies with its parent) → an unprivileged user without
capabilities → a seccomp filter → rlimits → an outer wall-clock deadline that
kills the process tree → a cap on stdout and stderr. A missing layer makes
:class:`Sandbox` refuse (:class:`SandboxUnavailable`); running without one is
the explicit :meth:`Sandbox.unsandboxed` opt-out, recorded in the policy.
"""

from llmcert.sandbox._escape import PROBES, ProbeResult, processes_with, run_escape_suite
from llmcert.sandbox._layers import LAYERS, SandboxUnavailable, require_layers
from llmcert.sandbox._outcome import Execution, Outcome
from llmcert.sandbox._policy import OPT_OUT_ENV, Limits, SandboxPolicy
from llmcert.sandbox._run import execute
from llmcert.sandbox._sandbox import Sandbox, UnsandboxedExecution

__all__ = [
    "LAYERS",
    "OPT_OUT_ENV",
    "PROBES",
    "Execution",
    "Limits",
    "Outcome",
    "ProbeResult",
    "Sandbox",
    "SandboxPolicy",
    "SandboxUnavailable",
    "UnsandboxedExecution",
    "execute",
    "processes_with",
    "require_layers",
    "run_escape_suite",
]
