"""The escape suite behind ``llmcert sandbox check``: each attempt, and the layer that stopped it.

Every probe is a program that tries one escape and prints what happened as
JSON; its judge reads that (and what the harness saw from outside) and names
the layer. A probe whose program did not run as planned counts as an escape:
the check never reports "stopped" for something it could not observe.
Network probes run twice: under the full policy (seccomp refuses the socket)
and with seccomp's socket rule lifted, to show the network namespace alone
stops the connection before any packet can leave (no interface but a
loopback that is down; the outside address is TEST-NET-1, 192.0.2.1).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llmcert.sandbox._outcome import Execution, Outcome
from llmcert.sandbox._policy import SandboxPolicy
from llmcert.sandbox._sandbox import Sandbox

OUTSIDE = "192.0.2.1"  # RFC 5737 TEST-NET-1: never routed


@dataclass(frozen=True)
class ProbeResult:
    name: str
    stopped: bool
    layer: str
    evidence: str

    def line(self) -> str:
        mark = "stopped" if self.stopped else "ESCAPED"
        return f"{self.name:<34} {mark:<8} {self.layer:<11} {self.evidence}"


@dataclass
class _Context:
    harness_pid: int
    home: str
    listener_port: int
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)


Judge = Callable[[Execution, dict[str, object], _Context], tuple[bool, str, str]]


@dataclass(frozen=True)
class _Probe:
    name: str
    program: Callable[[_Context], str]
    judge: Judge
    tweak: Callable[[SandboxPolicy], SandboxPolicy] = lambda p: p


def _report(expr: str) -> str:
    return f"import json, sys\nprint('@@' + json.dumps({expr}))\n"


_CTYPES = "import ctypes, ctypes.util\nlibc = ctypes.CDLL(None, use_errno=True)\n"


def _fork_bomb(_: _Context) -> str:
    return (
        "import os, time\nn = 0\nerr = None\ntry:\n    while True:\n"
        "        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n"
        "        n += 1\nexcept OSError as e:\n    err = e.errno\n"
        + _report("{'n': n, 'errno': err}")
    )


def _judge_fork(ex: Execution, r: dict[str, object], _: _Context) -> tuple[bool, str, str]:
    ok = r.get("errno") == 11
    return ok, "rlimits", f"fork failed with EAGAIN after {r.get('n')} processes (RLIMIT_NPROC)"


def _alloc(_: _Context) -> str:
    return "block = bytearray(10 * 1024 ** 3)\nblock[-1] = 1\n"


def _judge_alloc(ex: Execution, r: dict[str, object], _: _Context) -> tuple[bool, str, str]:
    return (
        ex.outcome is Outcome.MEMORY_LIMIT,
        "rlimits",
        f"{ex.outcome}: {ex.detail[:60]} (RLIMIT_AS)",
    )


def _writes(_: _Context) -> str:
    return (
        "import os\nres = {}\nfor p in ['/usr/llmcert-x', '/etc-x', '/sandbox/x', '/x', '/dev/shm/x']:\n"
        "    try:\n        open(p, 'w').write('x')\n        res[p] = 'written'\n"
        "    except OSError as e:\n        res[p] = e.strerror\n"
        "open('/task/ok', 'w').write('x')\nres['/task/ok'] = 'written'\n" + _report("res")
    )


def _judge_writes(ex: Execution, r: dict[str, object], _: _Context) -> tuple[bool, str, str]:
    outside = {k: v for k, v in r.items() if k != "/task/ok"}
    ok = (
        bool(outside)
        and all(v != "written" for v in outside.values())
        and r.get("/task/ok") == "written"
    )
    errs = sorted({str(v) for v in outside.values()})
    return ok, "namespaces", f"read-only root: {', '.join(errs)}; the work dir is writable"


def _secrets(ctx: _Context) -> str:
    return (
        f"import os\nres = {{}}\nfor p in ['/etc/shadow', '/etc/passwd', {ctx.home!r}]:\n"
        "    try:\n        res[p] = 'read %d bytes' % len(open(p, 'rb').read()) if os.path.isfile(p) "
        "else 'listed %d entries' % len(os.listdir(p))\n"
        "    except OSError as e:\n        res[p] = e.strerror\n"
    ) + _report("res")


def _judge_secrets(ex: Execution, r: dict[str, object], ctx: _Context) -> tuple[bool, str, str]:
    leaked = {
        k: v
        for k, v in r.items()
        if str(v).startswith(("read", "listed")) and v != "listed 0 entries"
    }
    ok = bool(r) and not leaked
    return (
        ok,
        "namespaces",
        "not in the sandbox's view: " + ", ".join(f"{k} ({v})" for k, v in r.items()),
    )


def _tcp(host: str) -> Callable[[_Context], str]:
    def program(ctx: _Context) -> str:
        port = ctx.listener_port if host == "127.0.0.1" else 80
        return (
            "import socket, errno\nres = {}\ntry:\n    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
            f"    res['target'] = '{host}:{port}'\n"
            "    s.settimeout(2)\n    res['ifaces'] = [n for _, n in socket.if_nameindex()]\n"
            f"    s.connect(({host!r}, {port}))\n    res['result'] = 'connected'\n"
            "except OSError as e:\n    res['result'] = errno.errorcode.get(e.errno, str(e))\n"
            + _report("res")
        )

    return program


def _judge_tcp(layer: str) -> Judge:
    def judge(ex: Execution, r: dict[str, object], ctx: _Context) -> tuple[bool, str, str]:
        result = str(r.get("result"))
        arrived = _listener_got_connection(ctx)
        if layer == "seccomp":
            ok = result == "EAFNOSUPPORT" and not arrived
            return ok, "seccomp", f"socket(AF_INET) refused: {result}"
        ok = result in ("ENETUNREACH", "ECONNREFUSED", "EADDRNOTAVAIL") and not arrived
        where = (
            "the namespace's own loopback, not the host's: the host listener got nothing"
            if "127.0.0.1" in str(r.get("target"))
            else "no route out: no packet left"
        )
        return (
            ok,
            "namespaces",
            (
                f"with seccomp's socket rule lifted: {result}, interfaces "
                f"{r.get('ifaces')} ({where})"
            ),
        )

    return judge


def _listener_got_connection(ctx: _Context) -> bool:
    listener = _LISTENERS.get(ctx.listener_port)
    if listener is None:
        return False
    listener.setblocking(False)
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


_LISTENERS: dict[int, socket.socket] = {}


def _ctypes_mount(_: _Context) -> str:
    return (
        _CTYPES + "os_ = __import__('os')\nos_.mkdir('/task/m')\n"
        "rc = libc.mount(b'none', b'/task/m', b'tmpfs', 0, None)\nerr = ctypes.get_errno()\n"
        "uid = libc.setuid(0)\n" + _report("{'mount': rc, 'errno': err, 'setuid': uid}")
    )


def _judge_ctypes(ex: Execution, r: dict[str, object], _: _Context) -> tuple[bool, str, str]:
    ok = r.get("mount") == -1 and r.get("errno") == 1 and r.get("setuid") == -1
    return ok, "seccomp", "ctypes mount(2) → EPERM; setuid(0) → -1"


def _kill_parent(ctx: _Context) -> str:
    return (
        "import os, signal, errno\nres = {}\n"
        f"for name, pid in [('harness', {ctx.harness_pid}), ('parent', os.getppid())]:\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n        res[name] = 'sent'\n"
        "    except OSError as e:\n        res[name] = errno.errorcode.get(e.errno)\n"
        "res['ppid'] = os.getppid()\n" + _report("res")
    )


def _judge_kill(ex: Execution, r: dict[str, object], ctx: _Context) -> tuple[bool, str, str]:
    ok = r.get("harness") == "ESRCH" and os.getpid() == ctx.harness_pid
    return (
        ok,
        "namespaces",
        (
            f"harness pid {ctx.harness_pid} not visible (ESRCH); parent is the "
            f"namespace's init (pid {r.get('ppid')}), immune to its signals"
        ),
    )


def _proc_mem(_: _Context) -> str:
    return (
        "res = {}\nfor p in ['/proc/self/mem', '/proc/1/mem']:\n    try:\n"
        "        open(p, 'r+b').close()\n        res[p] = 'opened'\n"
        "    except OSError as e:\n        res[p] = e.strerror\n" + _report("res")
    )


def _judge_proc(ex: Execution, r: dict[str, object], _: _Context) -> tuple[bool, str, str]:
    ok = bool(r) and "opened" not in r.values()
    return (
        ok,
        "namespaces",
        "no /proc in the sandbox: " + "; ".join(f"{k}: {v}" for k, v in r.items()),
    )


def _ptrace(_: _Context) -> str:
    return (
        _CTYPES
        + "rc = libc.ptrace(0, 0, None, None)\n"
        + _report("{'rc': rc, 'errno': ctypes.get_errno()}")
    )


def _judge_ptrace(ex: Execution, r: dict[str, object], _: _Context) -> tuple[bool, str, str]:
    return r.get("rc") == -1 and r.get("errno") == 1, "seccomp", "ptrace(PTRACE_TRACEME) → EPERM"


def _flood(_: _Context) -> str:
    return "import sys\nwhile True:\n    sys.stdout.buffer.write(bytes(range(256)) * 64)\n"


def _judge_flood(ex: Execution, r: dict[str, object], _: _Context) -> tuple[bool, str, str]:
    return ex.outcome is Outcome.OUTPUT_LIMIT, "output cap", f"{ex.outcome}: {ex.detail}"


def _sleep(_: _Context) -> str:
    return "import time\ntime.sleep(3600)\n"


def _judge_sleep(ex: Execution, r: dict[str, object], _: _Context) -> tuple[bool, str, str]:
    ok = ex.outcome is Outcome.TIME_LIMIT and ex.wall_seconds < 10
    return ok, "deadline", f"{ex.outcome} after {ex.wall_seconds:.1f} s wall: {ex.detail}"


def _setuid(_: _Context) -> str:
    return (
        _CTYPES + "import os, stat, subprocess\n"
        "suid = [p for p in ('/usr/bin/mount', '/usr/bin/su', '/usr/bin/passwd') "
        "if os.path.exists(p) and os.stat(p).st_mode & stat.S_ISUID]\n"
        "nnp = libc.prctl(39, 0, 0, 0, 0)\n"
        "r = subprocess.run(['/usr/bin/mount', '-t', 'tmpfs', 'none', '/task'], capture_output=True)\n"
        + _report(
            "{'suid': suid, 'no_new_privs': nnp, 'mount_rc': r.returncode, 'uid': os.getuid()}"
        )
    )


def _judge_setuid(ex: Execution, r: dict[str, object], _: _Context) -> tuple[bool, str, str]:
    ok = r.get("no_new_privs") == 1 and r.get("mount_rc") != 0 and r.get("uid") != 0
    return (
        ok,
        "user",
        (
            f"uid {r.get('uid')}, no_new_privs set: setuid binaries {r.get('suid')} run "
            f"unprivileged (mount exited {r.get('mount_rc')})"
        ),
    )


def _background(ctx: _Context) -> str:
    return (
        "import subprocess, sys\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', {ctx.marker!r}], "
        "start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        + _report("{'spawned': True}")
    )


def _judge_background(ex: Execution, r: dict[str, object], ctx: _Context) -> tuple[bool, str, str]:
    survivors = processes_with(ctx.marker)
    ok = bool(r.get("spawned")) and not survivors
    return (
        ok,
        "namespaces",
        f"detached child gone with the PID namespace (survivors: {len(survivors)})",
    )


def processes_with(marker: str, *, wait: float = 1.0) -> list[int]:
    """Host pids whose command line contains ``marker`` (after a short grace period)."""
    end = time.monotonic() + wait
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        if not found or time.monotonic() > end:
            return found
        time.sleep(0.05)


def _lift_socket_rule(p: SandboxPolicy) -> SandboxPolicy:
    return p.model_copy(update={"deny_inet_sockets": False})


def _short_deadline(p: SandboxPolicy) -> SandboxPolicy:
    return p.with_limits(wall_seconds=2.0)


PROBES: tuple[_Probe, ...] = (
    _Probe("fork bomb", _fork_bomb, _judge_fork),
    _Probe("allocate 10 GB", _alloc, _judge_alloc),
    _Probe("write outside the work dir", _writes, _judge_writes),
    _Probe("read /etc/shadow and the home dir", _secrets, _judge_secrets),
    _Probe("TCP to 127.0.0.1", _tcp("127.0.0.1"), _judge_tcp("seccomp")),
    _Probe(
        "TCP to 127.0.0.1 (netns alone)", _tcp("127.0.0.1"), _judge_tcp("netns"), _lift_socket_rule
    ),
    _Probe(f"TCP to {OUTSIDE}", _tcp(OUTSIDE), _judge_tcp("seccomp")),
    _Probe(
        f"TCP to {OUTSIDE} (netns alone)", _tcp(OUTSIDE), _judge_tcp("netns"), _lift_socket_rule
    ),
    _Probe("ctypes: mount, setuid(0)", _ctypes_mount, _judge_ctypes),
    _Probe("os.kill of the parent", _kill_parent, _judge_kill),
    _Probe("/proc/self/mem", _proc_mem, _judge_proc),
    _Probe("ptrace", _ptrace, _judge_ptrace),
    _Probe("unbounded binary output", _flood, _judge_flood),
    _Probe("sleep past the deadline", _sleep, _judge_sleep, _short_deadline),
    _Probe("setuid binaries", _setuid, _judge_setuid),
    _Probe("leave a background process", _background, _judge_background),
)


def run_escape_suite(policy: SandboxPolicy | None = None) -> list[ProbeResult]:
    """Run every probe under ``policy`` (the default one if None) and judge each."""
    sandbox = Sandbox(policy)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    _LISTENERS[port] = listener
    ctx = _Context(harness_pid=os.getpid(), home=str(Path.home()), listener_port=port)
    results = []
    try:
        for probe in PROBES:
            ex = sandbox.run(probe.program(ctx), policy=probe.tweak(sandbox.policy))
            results.append(_judge(probe, ex, ctx))
    finally:
        _LISTENERS.pop(port, None)
        listener.close()
    return results


def _judge(probe: _Probe, ex: Execution, ctx: _Context) -> ProbeResult:
    report: dict[str, object] = {}
    for line in ex.stdout.splitlines():
        if line.startswith("@@"):
            with contextlib.suppress(ValueError):
                report = json.loads(line[2:])
    if ex.outcome is Outcome.SANDBOX_FAILURE:
        return ProbeResult(probe.name, False, "-", f"probe did not run: {ex.detail[:120]}")
    stopped, layer, evidence = probe.judge(ex, report, ctx)
    if not stopped and not report and ex.outcome is not Outcome.PASSED:
        evidence += f" [probe ended {ex.outcome}: {ex.detail[:100]}]"
    return ProbeResult(probe.name, stopped, layer, evidence)
