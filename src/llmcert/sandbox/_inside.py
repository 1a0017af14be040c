"""The trusted first part of every sandboxed process (standard library only).

It runs on the sandbox's interpreter, inside the namespaces and under the
seccomp filter, lowers the resource limits, says it started, then runs the
program and its tests in one namespace and says how that ended. The harness
trusts only what this file reports and how the process ended: a program that
exits before its tests have run never counts as passing.

Usage: python -I -B _inside.py STATUS_FD DIR LIMITS_JSON
"""

import contextlib
import errno
import json
import math
import os
import resource
import sys


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _limit(kind: int, value: int) -> None:
    resource.setrlimit(kind, (value, value))


def main() -> None:
    status_fd, folder, limits = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])

    def report(**record: object) -> None:
        os.write(status_fd, (json.dumps(record) + "\n").encode())

    cpu = math.ceil(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    _limit(resource.RLIMIT_AS, limits["memory_bytes"])
    _limit(resource.RLIMIT_NPROC, limits["processes"])
    _limit(resource.RLIMIT_FSIZE, limits["file_bytes"])
    _limit(resource.RLIMIT_NOFILE, limits["open_files"])
    _limit(resource.RLIMIT_CORE, 0)
    with open(os.path.join(folder, "program.py"), encoding="utf-8") as fh:
        program = fh.read()
    with open(os.path.join(folder, "tests.py"), encoding="utf-8") as fh:
        tests = fh.read()
    report(event="started")
    start = _cpu()
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    outcome, detail = "passed", ""
    try:
        exec(compile(program, "program.py", "exec"), namespace)
        exec(compile(tests, "tests.py", "exec"), namespace)
    except AssertionError as exc:
        outcome, detail = "failed_assertion", _describe(exc)
    except MemoryError as exc:
        outcome, detail = "memory_limit", _describe(exc)
    except OSError as exc:
        big = exc.errno == errno.EFBIG
        outcome, detail = ("output_limit" if big else "runtime_error"), _describe(exc)
    except BaseException as exc:  # SystemExit too: exiting is not passing
        outcome, detail = "runtime_error", _describe(exc)
    used = _cpu() - start
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    report(event="done", outcome=outcome, detail=detail, cpu_seconds=used)
    os._exit(0)


def _describe(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:  # a hostile __str__
        text = type(exc).__name__
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        text += f" ({tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"
    return text[:500]


if __name__ == "__main__":
    main()
