"""The escape suite: every attempt stopped, by the layer it names, and no process left behind."""

from __future__ import annotations

from llmcert.sandbox import PROBES, SandboxPolicy, run_escape_suite
from tests.sandbox.conftest import sandbox_processes

EXPECTED_LAYERS = {
    "fork bomb": "rlimits",
    "allocate 10 GB": "rlimits",
    "TCP to 127.0.0.1": "seccomp",
    "TCP to 192.0.2.1 (netns alone)": "namespaces",
    "ptrace": "seccomp",
    "unbounded binary output": "output cap",
    "sleep past the deadline": "deadline",
    "setuid binaries": "user",
}


def test_every_attempt_is_stopped_and_nothing_survives() -> None:
    policy = SandboxPolicy()
    results = run_escape_suite(policy)
    assert [r.name for r in results] == [p.name for p in PROBES]
    escaped = [r.line() for r in results if not r.stopped]
    assert escaped == []
    layers = {r.name: r.layer for r in results}
    for name, layer in EXPECTED_LAYERS.items():
        assert layers[name] == layer
    assert sandbox_processes(policy.uid) == []


def test_a_weakened_policy_is_caught() -> None:
    """The suite is not a rubber stamp: with the memory limit far above 10 GB the probe escapes."""
    from llmcert.sandbox import execute
    from llmcert.sandbox._escape import PROBES as probes
    from llmcert.sandbox._escape import _Context, _judge

    weak = SandboxPolicy().with_limits(memory_bytes=64 << 40)
    alloc = next(p for p in probes if p.name == "allocate 10 GB")
    ctx = _Context(harness_pid=0, home="/root", listener_port=1)
    result = _judge(
        alloc, execute(weak, "block = bytearray(10 * 1024 ** 3)\nprint('@@{}')\n", ""), ctx
    )
    assert not result.stopped
