"""Run a program and its tests under a policy, and classify how it ended.

The outer process is ``bwrap``; it is started in a session of its own so the
wall-clock deadline and the output cap can kill it with one signal, and the
sandbox's PID namespace takes every process the program started with it
(``--die-with-parent``: the namespace's init gets SIGKILL when bwrap dies).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack, suppress
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from llmcert.sandbox._outcome import Execution, Outcome
from llmcert.sandbox._policy import Limits, SandboxPolicy
from llmcert.sandbox._seccomp import data_fd, seccomp_program

_INSIDE = Path(__file__).with_name("_inside.py")
#: The harness's files, bound read-only at /sandbox in every sandbox.
HARNESS = (_INSIDE, Path(__file__).with_name("_wire.py"))


@lru_cache(maxsize=1)
def harness_version() -> str:
    """Digest of the harness's files: part of the policy digest, so a new harness re-executes."""
    return hashlib.sha256(b"".join(p.read_bytes() for p in HARNESS)).hexdigest()


_COMPILE = """import json, py_compile, sys
for source, target in zip(sys.argv[1::2], sys.argv[2::2]):
    py_compile.compile(source, target, dfile="/sandbox/" + source.rsplit("/", 1)[-1], doraise=True)
print(json.dumps(sys.path))
"""


class Harness(NamedTuple):
    """What every sandbox of one interpreter shares: the harness's files as ``NAME.pyc``, and
    the module search path the interpreter's ``site`` builds (the sandbox starts without
    ``site``, whose .pth files and sitecustomize would run before every program)."""

    files: dict[str, bytes]
    path: tuple[str, ...]


@lru_cache(maxsize=4)
def harness_for(python: str, version: str) -> Harness:
    """The harness compiled once per process by the sandbox's own interpreter: compiling the
    sources, and ``site``, in every sandbox would cost each execution ~7 ms. ``version``
    (:func:`harness_version`) keys the cache, so edited sources are recompiled."""
    with tempfile.TemporaryDirectory(prefix="llmcert-harness-") as folder:
        targets = [Path(folder, f"{part.stem}.pyc") for part in HARNESS]
        pairs = [
            str(p) for part, target in zip(HARNESS, targets, strict=True) for p in (part, target)
        ]
        done = subprocess.run(
            [python, "-I", "-B", "-c", _COMPILE, *pairs],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        path = json.loads(done.stdout)
        return Harness({t.name: t.read_bytes() for t in targets}, tuple(map(str, path)))


#: A random token of this llmcert process in every sandbox's environment, so a search for
#: leftover sandbox processes counts this process's alone while others run sandboxes too.
RUN_TOKEN_ENV = "LLMCERT_SANDBOX_RUN"
RUN_TOKEN = secrets.token_hex(8)

_ENV = {
    RUN_TOKEN_ENV: RUN_TOKEN,
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/task",
    "TMPDIR": "/task",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}
_ETC = ("/etc/alternatives", "/etc/ld.so.cache")
_MERGED_USR = (
    ("usr/bin", "/bin"),
    ("usr/sbin", "/sbin"),
    ("usr/lib", "/lib"),
    ("usr/lib64", "/lib64"),
)


def _bwrap_argv(policy: SandboxPolicy, fds: dict[str, int]) -> list[str]:
    limits = policy.limits
    argv = [
        "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        str(policy.uid),
        "--gid",
        str(policy.uid),
        "--hostname",
        "sandbox",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for target, link in _MERGED_USR:
        argv += ["--symlink", target, link]
    # Debian resolves shared libraries (libblas for numpy) through /etc/alternatives;
    # nothing else of /etc is visible (no passwd, no shadow).
    for path in _ETC:
        argv += ["--ro-bind-try", path, path]
    prefix = Path(policy.python).resolve().parent.parent
    if not str(prefix).startswith("/usr"):
        argv += ["--ro-bind", str(prefix), str(prefix)]
    argv += [
        "--as-pid-1",  # the trusted harness is the PID namespace's init: the program cannot signal it
        "--dev",
        "/dev",
        "--size",
        str(limits.work_dir_bytes),
        "--tmpfs",
        "/task",
        "--chdir",
        "/task",
    ]
    for name in harness_for(policy.python, harness_version()).files:
        argv += ["--perms", "0444", "--ro-bind-data", str(fds[name]), f"/sandbox/{name}"]
    argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--seccomp", str(fds["seccomp"]), "--"]
    return argv


def _drop_root(uid: int) -> list[str]:
    """The prefix that runs bwrap as ``uid`` when llmcert runs as root (bwrap maps the sandbox's
    user to its caller's, and root's would be root outside). ``setpriv`` (util-linux) rather
    than Popen's ``user=``, which makes subprocess fork the whole caller instead of vfork:
    ~3 ms per execution, more beside a loaded model."""
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]


def _setup_json(limits: Limits, path: Sequence[str] = ()) -> str:
    """The harness's last argument: the rlimits, and the module search path to add."""
    setup = limits.model_dump(
        include={"cpu_seconds", "memory_bytes", "processes", "file_bytes", "open_files"}
    )
    return json.dumps({**setup, "path": list(path)})


def execute(
    policy: SandboxPolicy,
    program: str,
    tests: str,
    *,
    prelude: str = "",
    entry: Sequence[str] = (),
) -> Execution:
    """Run ``program`` in one process and ``tests`` in another; never raises for what the code does.

    The tests run after ``prelude`` (trusted code of the task, such as helper
    functions the tests call) and reach the program only through the names in
    ``entry`` and the other names they read that the program defines, as calls
    whose arguments and results cross as plain data (``_inside.py``). Without
    tests, the program on its own passes when it runs to the end.
    """
    digest = policy.digest()
    sandboxed = policy.isolation != "none"
    spec = json.dumps(
        {"prelude": prelude, "tests": tests, "entry": list(entry), "reads": names_read(tests)}
    ).encode()
    status_r, status_w = os.pipe()
    # The write end belongs to _supervise, which closes it once the child holds it;
    # closing it twice could close another thread's descriptor of the same number.
    handed = False
    with ExitStack() as stack:
        stack.callback(_close, status_r)
        stack.callback(lambda: None if handed else _close(status_w))
        program_fd = stack.enter_context(data_fd(program.encode(), "program"))
        tests_fd = stack.enter_context(data_fd(spec, "tests"))
        fds = {"program": program_fd, "tests": tests_fd}
        tail = [str(status_w), str(program_fd), str(tests_fd)]
        if sandboxed:
            try:
                harness = harness_for(policy.python, harness_version())
            except (OSError, subprocess.SubprocessError) as exc:
                return Execution(
                    outcome=Outcome.SANDBOX_FAILURE,
                    detail=f"cannot compile the harness with {policy.python}: {exc}",
                    wall_seconds=0.0,
                    sandboxed=sandboxed,
                    policy_digest=digest,
                )
            for name, code in harness.files.items():
                fds[name] = stack.enter_context(data_fd(code, name))
            fds["seccomp"] = stack.enter_context(
                data_fd(seccomp_program(deny_inet_sockets=policy.deny_inet_sockets), "seccomp")
            )
            argv = [*_bwrap_argv(policy, fds), policy.python, "-S", "-I", "-B"]
            argv += ["/sandbox/_inside.pyc", *tail, _setup_json(policy.limits, harness.path)]
            if os.geteuid() == 0:
                argv = [*_drop_root(policy.uid), *argv]
            popen_kw: dict[str, object] = {"pass_fds": (status_w, *fds.values())}
            cwd = None
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="llmcert-unsandboxed-"))
            argv = [policy.python, "-I", "-B", str(_INSIDE), *tail, _setup_json(policy.limits)]
            popen_kw = {"pass_fds": (status_w, program_fd, tests_fd)}
            cwd = folder
        handed = True
        return _supervise(argv, popen_kw, cwd, status_r, status_w, policy, digest, sandboxed)
    raise AssertionError("unreachable")  # pragma: no cover


@lru_cache(maxsize=256)
def names_read(source: str) -> list[str]:
    """Every name the tests load, anywhere: those the program defines become proxies of it."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []  # the harness compiles the tests and reports the error
    found = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    return sorted(found)


def _close(fd: int) -> None:
    with suppress(OSError):
        os.close(fd)


def _supervise(
    argv: list[str],
    popen_kw: dict[str, object],
    cwd: str | None,
    status_r: int,
    status_w: int,
    policy: SandboxPolicy,
    digest: str,
    sandboxed: bool,
) -> Execution:
    limits = policy.limits
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_ENV,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            **popen_kw,
        )  # type: ignore[call-overload]
    except OSError as exc:
        os.close(status_w)
        return Execution(
            outcome=Outcome.SANDBOX_FAILURE,
            detail=f"cannot start {argv[0]}: {exc}",
            wall_seconds=0.0,
            sandboxed=sandboxed,
            policy_digest=digest,
        )
    os.close(status_w)
    buffers = {"stdout": bytearray(), "stderr": bytearray(), "status": bytearray()}
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None
    assert proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    status_file = os.fdopen(status_r, "rb", buffering=0, closefd=False)
    sel.register(status_file, selectors.EVENT_READ, "status")
    # Readable once the process has exited: the loop ends on it rather than on wait()'s sleeps.
    exited: int | None = None
    with suppress(OSError):  # a kernel before 5.3 has no pidfd: wait() below polls instead
        exited = os.pidfd_open(proc.pid)
        sel.register(exited, selectors.EVENT_READ, "exit")
    deadline = started + limits.deadline
    killed: str | None = None
    output = 0
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                killed = "wall"
                break
            for key, _ in sel.select(timeout=min(remaining, 1.0)):
                if key.data == "exit":
                    sel.unregister(key.fileobj)
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buffers[key.data].extend(chunk)
                if key.data != "status":
                    output += len(chunk)
                    if output > limits.output_bytes:
                        killed = "output"
                if killed:
                    break
            if killed:
                break
    finally:
        sel.close()
        if exited is not None:
            os.close(exited)
        if killed:
            _kill(proc)
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            killed = killed or "wall"
            _kill(proc)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    wall = time.monotonic() - started
    return _classify(proc.returncode, killed, buffers, limits, wall, sandboxed, digest)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _text(data: bytes | bytearray, cap: int) -> str:
    return bytes(data[:cap]).decode("utf-8", errors="replace")


def _classify(
    rc: int,
    killed: str | None,
    buffers: dict[str, bytearray],
    limits: Limits,
    wall: float,
    sandboxed: bool,
    digest: str,
) -> Execution:
    records = []
    for line in bytes(buffers["status"]).splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    events = {r.get("event"): r for r in records if isinstance(r, dict)}
    cap = limits.output_bytes
    stdout, stderr = _text(buffers["stdout"], cap), _text(buffers["stderr"], cap)
    common = {
        "wall_seconds": round(wall, 4),
        "exit_status": rc,
        "stdout": stdout,
        "stderr": stderr,
        "sandboxed": sandboxed,
        "policy_digest": digest,
    }
    if "started" not in events:
        if killed == "wall":
            detail = f"the sandbox did not start within {limits.deadline:g} s"
        else:
            detail = stderr.strip()[-500:] or f"the sandbox exited with status {rc} before starting"
        return Execution(outcome=Outcome.SANDBOX_FAILURE, detail=detail, **common)
    if killed == "output":
        return Execution(
            outcome=Outcome.OUTPUT_LIMIT,
            detail=f"more than {limits.output_bytes} bytes of output",
            **common,
        )
    if killed == "wall":
        return Execution(
            outcome=Outcome.TIME_LIMIT,
            detail=f"wall-clock deadline of {limits.deadline:g} s",
            **common,
        )
    done = events.get("done")
    if done is not None and rc == 0:
        cpu = done.get("cpu_seconds")
        return Execution(
            outcome=Outcome(done.get("outcome", "runtime_error")),
            detail=str(done.get("detail", ""))[:500],
            cpu_seconds=cpu if isinstance(cpu, (int, float)) else None,
            **common,
        )
    signum = _signal_of(rc)
    if signum in (signal.SIGXCPU, signal.SIGKILL):
        return Execution(
            outcome=Outcome.TIME_LIMIT, detail=f"CPU limit of {limits.cpu_seconds:g} s", **common
        )
    if signum == signal.SIGXFSZ:
        return Execution(outcome=Outcome.OUTPUT_LIMIT, detail="file size limit", **common)
    if signum is not None:
        return Execution(
            outcome=Outcome.RUNTIME_ERROR,
            detail=f"killed by {signal.Signals(signum).name}",
            **common,
        )
    return Execution(
        outcome=Outcome.RUNTIME_ERROR,
        detail=f"exited with status {rc} before its tests completed",
        **common,
    )


def _signal_of(rc: int) -> int | None:
    """bwrap reports a child killed by signal N as 128 + N; a direct child as -N."""
    if rc < 0:
        return -rc
    if 128 < rc < 128 + 65:
        try:
            return int(signal.Signals(rc - 128))
        except ValueError:
            return None
    return None


__all__ = ["execute"]

if sys.platform != "linux":  # pragma: no cover
    raise ImportError("llmcert.sandbox needs Linux (namespaces, seccomp, rlimits)")
