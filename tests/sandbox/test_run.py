"""Each kind of ending gets its own outcome; nothing hangs and nothing is left running."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import pytest

from llmcert.sandbox import Outcome, Sandbox, SandboxPolicy, execute
from llmcert.sandbox._run import RUN_TOKEN, RUN_TOKEN_ENV
from tests.sandbox.conftest import needs_root, sandbox_processes

CASES = [
    ("def f(x):\n    return x + 1\n", "assert f(1) == 2\n", Outcome.PASSED),
    ("def f(x):\n    return x\n", "assert f(1) == 2\n", Outcome.FAILED_ASSERTION),
    ("def f(x):\n    return 1 / 0\n", "f(1)\n", Outcome.RUNTIME_ERROR),
    ("def f(:\n", "", Outcome.RUNTIME_ERROR),
    ("import os\nos._exit(0)\n", "assert False\n", Outcome.RUNTIME_ERROR),
    ("import sys\nsys.exit(0)\n", "", Outcome.RUNTIME_ERROR),
    ("while True:\n    pass\n", "", Outcome.TIME_LIMIT),
    ("import time\ntime.sleep(60)\n", "", Outcome.TIME_LIMIT),
    ("x = bytearray(8 * 1024 ** 3)\n", "", Outcome.MEMORY_LIMIT),
    ("while True:\n    print('x' * 4096)\n", "", Outcome.OUTPUT_LIMIT),
    ("import os, sys\nwhile True:\n    os.write(1, os.urandom(65536))\n", "", Outcome.OUTPUT_LIMIT),
    ("open('big', 'wb').write(b'0' * (64 << 20))\n", "", Outcome.OUTPUT_LIMIT),
    ("import os\nwhile True:\n    os.fork()\n", "", Outcome.RUNTIME_ERROR),
]


@pytest.mark.parametrize(("program", "tests", "expected"), CASES)
def test_outcomes_are_kept_apart(
    policy: SandboxPolicy, program: str, tests: str, expected: Outcome
) -> None:
    start = time.monotonic()
    ex = execute(policy, program, tests)
    assert ex.outcome is expected, (ex.outcome, ex.detail, ex.stderr[-300:])
    assert ex.sandboxed
    assert ex.policy_digest == policy.digest()
    assert time.monotonic() - start < policy.limits.deadline + 5


def test_passed_run_reports_cpu_time_and_output(policy: SandboxPolicy) -> None:
    ex = execute(policy, "print('hello')\nsum(range(10**6))\n", "")
    assert ex.outcome is Outcome.PASSED
    assert ex.stdout == "hello\n"
    assert ex.cpu_seconds is not None
    assert ex.cpu_seconds > 0


def test_binary_output_is_kept_readable(policy: SandboxPolicy) -> None:
    ex = execute(policy, "import sys\nsys.stdout.buffer.write(bytes(range(256)))\n", "")
    assert ex.outcome is Outcome.PASSED
    assert "\ufffd" in ex.stdout


def test_a_broken_interpreter_is_a_sandbox_failure_not_a_wrong_answer(
    policy: SandboxPolicy,
) -> None:
    broken = policy.model_copy(update={"python": "/usr/bin/does-not-exist"})
    ex = execute(broken, "pass\n", "")
    assert ex.outcome is Outcome.SANDBOX_FAILURE
    assert ex.outcome.is_harness_error


def test_forged_marker_on_stderr_is_not_a_sandbox_failure(policy: SandboxPolicy) -> None:
    ex = execute(policy, "import sys, os\nsys.stderr.write('bwrap: fake\\n')\nos._exit(1)\n", "")
    assert ex.outcome is Outcome.RUNTIME_ERROR


@needs_root
def test_code_runs_as_the_unprivileged_user(policy: SandboxPolicy) -> None:
    ex = execute(policy, "import os\nprint(os.getuid(), os.geteuid(), os.getgid())\n", "")
    assert ex.stdout.split() == [str(policy.uid)] * 3


@needs_root
def test_nothing_survives_forks_daemons_and_kills(policy: SandboxPolicy) -> None:
    programs = [
        "import os\nwhile True:\n    os.fork()\n",
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\n",
        "import os, time\nfor _ in range(5):\n    if os.fork() == 0:\n        time.sleep(600)\ntime.sleep(600)\n",
        "import subprocess\nsubprocess.Popen(['sleep', '600'], start_new_session=True)\nwhile True:\n    print('y' * 1000)\n",
    ]
    for program in programs:
        execute(policy, program, "")
    assert sandbox_processes(policy.uid) == []


def test_unsandboxed_opt_out_is_loud_and_recorded(policy: SandboxPolicy) -> None:
    with pytest.warns(UserWarning, match="WITHOUT A SANDBOX"):
        box = Sandbox.unsandboxed("debugging a scorer", policy)
    ex = box.run("def f():\n    return 1\n", "assert f() == 1\n")
    assert ex.outcome is Outcome.PASSED
    assert not ex.sandboxed
    assert box.policy.isolation == "none"
    assert box.policy.opt_out_reason == "debugging a scorer"
    assert box.digest != policy.digest()
    with pytest.raises(ValueError, match="reason"):
        Sandbox.unsandboxed("  ")


def test_the_harness_starts_from_bytecode_without_slow_imports(policy: SandboxPolicy) -> None:
    # The program's process is forked from the harness, so it sees what the harness imported:
    # json (which pulls in re and enum), typing, signal's enums and site (with the host's .pth
    # files and sitecustomize) would cost every start-up.
    ex = execute(
        policy,
        "import os, sys\nprint(sorted(os.listdir('/sandbox')))\n"
        "slow = {'json', 're', 'enum', 'typing', 'signal', 'site', 'sitecustomize'}\n"
        "print(sorted(slow & set(sys.modules)))\nprint(sys.path[1:])\n",
        "",
    )
    assert ex.outcome is Outcome.PASSED, ex.detail
    bytecode, imported, path, _ = ex.stdout.split("\n")
    assert bytecode == "['_inside.pyc', '_wire.pyc']"
    assert imported == "[]"
    # the module search path is the one the interpreter's own site builds
    full = subprocess.run(
        [policy.python, "-I", "-c", "import sys; print(sys.path)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert path == full.stdout.strip()


def test_exit_and_quit_exist_and_never_pass(policy: SandboxPolicy) -> None:
    for call in ("exit(0)", "quit()"):
        ex = execute(policy, f"def f():\n    return 1\n{call}\n", "assert f() == 1\n")
        assert ex.outcome is Outcome.RUNTIME_ERROR
        assert "SystemExit" in ex.detail


@needs_root
def test_the_leftover_check_counts_this_run_s_processes_only(policy: SandboxPolicy) -> None:
    """Another run's sandboxes (same user) may be alive meanwhile; they are not this run's."""

    def detached(env: dict[str, str]) -> int:
        """A process of the sandbox user that is not this process's child."""
        drop = [f"--reuid={policy.uid}", f"--regid={policy.uid}", "--clear-groups"]
        out = subprocess.run(
            ["setpriv", *drop, "sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout)

    # every sandboxed process carries the token unless it wipes its own environment
    shown = execute(policy, f"import os\nprint(os.environ[{RUN_TOKEN_ENV!r}])\n", "")
    assert shown.stdout == f"{RUN_TOKEN}\n"
    foreign = detached({RUN_TOKEN_ENV: "another-run"})
    ours = detached({RUN_TOKEN_ENV: RUN_TOKEN})
    try:
        found = sandbox_processes(policy.uid, grace=0.0)
        assert ours in found
        assert foreign not in found
    finally:
        for pid in (foreign, ours):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert sandbox_processes(policy.uid) == []
