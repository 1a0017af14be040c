"""The trusted first process of every sandbox, and the program's process it forks (stdlib only).

The tests and the program never share a process. This process lowers the
resource limits, says it started, and forks the program's process *before* it
reads the tests: the child closes every descriptor but its two pipe ends and
the program's, runs the program, and then only answers calls. The tests run
here, in a namespace of their own (the task's trusted prelude, e.g. HumanEval's
helper functions, runs first); the names they take from the program are
proxies that send the call's arguments down the pipe and decode the reply as
plain data (``_wire``). So the program cannot read the expected answers, patch
``assert`` or builtins of the tests, replace a helper the tests rely on, return
an object with its own ``__eq__``, or write the outcome: only this process
writes the status pipe, and it reports ``passed`` only when every test ran to
the end and the program never broke the protocol. In the sandbox this process
is the PID namespace's init, so the program's signals cannot kill or stop it.

Usage: python -S -I -B _inside.py STATUS_FD PROGRAM_FD TESTS_FD SETUP_JSON
(SETUP_JSON: the rlimits and the site directories to add to sys.path; TESTS_FD holds JSON:
{"prelude": str, "tests": str, "entry": [names], "reads": [the names the tests read, found
by the parent with ast, which would slow every start-up here]}).
"""

import _signal as signal  # type: ignore[import-not-found]  # signal wraps it in enums: +3 ms
import builtins
import errno
import math
import os
import resource
import sys
import time

TYPE_CHECKING = False  # not typing's: importing typing would cost every execution ~5 ms
if TYPE_CHECKING:
    from llmcert.sandbox import _wire
else:  # the harness's files sit side by side, in and out of the sandbox
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _wire


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _limits(limits: dict) -> None:  # type: ignore[type-arg]
    cpu = math.ceil(limits["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    for kind, key in (
        (resource.RLIMIT_AS, "memory_bytes"),
        (resource.RLIMIT_NPROC, "processes"),
        (resource.RLIMIT_FSIZE, "file_bytes"),
        (resource.RLIMIT_NOFILE, "open_files"),
    ):
        resource.setrlimit(kind, (limits[key], limits[key]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _site(path: list[str] | tuple[str, ...]) -> None:
    """What ``site`` gives a program, without its cost or the host's .pth files and
    sitecustomize (the sandbox starts with -S): the interpreter's site directories, given by
    the parent, and the ``exit`` and ``quit`` builtins."""
    sys.path.extend(p for p in path if p not in sys.path)
    import _sitebuiltins  # frozen: no file to read

    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 1 << 20):
        parts.append(chunk)
    os.close(fd)
    return b"".join(parts)


# -- the program's side ------------------------------------------------------------------------


def _serve(program_fd: int, requests: int, replies: int) -> None:
    """Run the program, then answer calls until the pipe closes. Never returns."""
    program = _read_all(program_fd).decode("utf-8", errors="replace")
    objects: list[object] = []

    def keep(value: object) -> int:
        objects.append(value)
        return len(objects) - 1

    namespace = {"__name__": "__main__", "__builtins__": builtins}
    answer: dict[str, object]
    try:
        exec(compile(program, "program.py", "exec"), namespace)
        answer = {"ready": sorted(k for k, v in namespace.items() if callable(v))}
    except BaseException as exc:  # SystemExit too: exiting is not passing
        answer = {"raise": _exception(exc)}
    while True:
        _flush()
        try:
            data = _wire.frame(answer)
        except BaseException as exc:  # too large, or a hostile str() in the answer
            data = _wire.frame({"raise": _exception(exc)})
        try:
            _wire.write(replies, data)
            message = _wire.receive(requests)
        except BaseException:
            os._exit(0)
        try:
            answer = {"ok": _wire.encode(_perform(message, namespace, objects), keep)}
        except BaseException as exc:
            answer = {"raise": _exception(exc)}


def _perform(message: dict, namespace: dict, objects: list) -> object:  # type: ignore[type-arg]
    target = message["target"]
    if "g" in target and target["g"] not in namespace:
        raise NameError(f"name {target['g']!r} is not defined by the program")
    obj = namespace[target["g"]] if "g" in target else objects[target["h"]]
    op = message["op"]
    if op == "getattr":
        return getattr(obj, message["name"])
    lookup = objects.__getitem__
    if op == "setattr":
        setattr(obj, message["name"], _wire.decode(message["value"], lookup))
        return None
    args = _wire.decode(message["args"], lookup)
    kwargs = _wire.decode(message["kwargs"], lookup)
    return obj(*args, **kwargs)


def _exception(exc: BaseException) -> dict:  # type: ignore[type-arg]
    try:
        text = str(exc)[:300]
    except BaseException:  # a hostile __str__
        text = ""
    where, tb = "", exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "program.py":
            where = f"program.py:{tb.tb_lineno}"
        tb = tb.tb_next
    return {
        "type": type(exc).__name__[:80],
        "message": text,
        "errno": getattr(exc, "errno", None),
        "where": where,
    }


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 (contextlib costs start-up time in every sandbox)
            stream.flush()
        except BaseException:
            pass


# -- the trusted side --------------------------------------------------------------------------


GONE = "the program's process went away"


class Broken(BaseException):
    """The program broke the protocol or went away; tests cannot catch it (not an Exception)."""


class ProgramError(Exception):
    """An exception the program raised whose type is not a builtin one."""


class Program:
    """The trusted side's end of the pipe; records the first protocol violation for good."""

    def __init__(self, pid: int, requests: int, replies: int) -> None:
        self.pid, self.requests, self.replies = pid, requests, replies
        self.broken = ""
        self.status: int | None = None

    def fail(self, why: str) -> Broken:
        self.broken = self.broken or why
        return Broken(self.broken)

    def receive(self) -> dict:  # type: ignore[type-arg]
        try:
            message = _wire.receive(self.replies)
        except EOFError:
            raise self.fail(GONE) from None
        except (_wire.NotPlainData, RecursionError, MemoryError) as exc:
            raise self.fail(f"the program sent a malformed reply: {exc}") from None
        if not isinstance(message, dict) or len(message) != 1:
            raise self.fail("the program sent a malformed reply")
        return message

    def ask(self, message: dict) -> object:  # type: ignore[type-arg]
        if self.broken:
            raise Broken(self.broken)
        try:
            _wire.send(self.requests, message)
        except OSError:
            raise self.fail(GONE) from None
        reply = self.receive()
        if "raise" in reply:
            raise _rebuilt(reply["raise"])
        if "ok" not in reply:
            raise self.fail("the program sent a malformed reply")
        try:
            return _wire.decode(reply["ok"], lambda n: Remote(self, {"h": n}))
        except (_wire.NotPlainData, RecursionError) as exc:
            raise self.fail(
                f"the program returned something that is not plain data: {exc}"
            ) from None

    def end(self) -> None:
        """Kill the program's process and keep how it ended (a real death, or our kill)."""
        deadline = time.monotonic() + (0.5 if self.broken == GONE else 0.0)
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        try:  # noqa: SIM105
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)


def _rebuilt(info: object) -> Exception:
    if not isinstance(info, dict):
        return ProgramError("the program raised an exception")
    name, message = str(info.get("type", ""))[:80], str(info.get("message", ""))[:300]
    where = str(info.get("where") or "the program")[:40]
    cls = getattr(builtins, name, None)
    rebuilt: Exception = ProgramError(f"{name}: {message}")
    if isinstance(cls, type) and issubclass(cls, Exception):
        code = info.get("errno")
        try:  # noqa: SIM105
            rebuilt = (
                cls(code, message)
                if issubclass(cls, OSError) and type(code) is int
                else cls(message)
            )
        except BaseException:
            pass
    rebuilt.add_note(f"raised in {where}")
    return rebuilt


class Remote:
    """A name or an object of the program: it can be called, its attributes read and set,
    and it can be passed back as an argument. Anything else (comparison, truth, hashing,
    iteration, conversion) would mean trusting the program's own methods, so it breaks the run."""

    __program: Program
    __target: dict  # type: ignore[type-arg]

    def __init__(self, program: Program, target: dict) -> None:  # type: ignore[type-arg]
        object.__setattr__(self, "_Remote__program", program)
        object.__setattr__(self, "_Remote__target", target)

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self.__program.ask(
            {
                "op": "call",
                "target": self.__target,
                "args": self.__encode(list(args)),
                "kwargs": self.__encode(kwargs),
            }
        )

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise self.__program.fail(f"the tests used {name} of an object of the program")
        return self.__program.ask({"op": "getattr", "target": self.__target, "name": name})

    def __setattr__(self, name: str, value: object) -> None:
        message = {"op": "setattr", "target": self.__target, "name": name}
        self.__program.ask({**message, "value": self.__encode(value)})

    def __encode(self, value: object) -> object:
        try:
            return _wire.encode(value, _handle_of)
        except _wire.NotPlainData as exc:
            why = f"the tests passed something that is not plain data: {exc}"
            raise self.__program.fail(why) from None

    def __repr__(self) -> str:
        return "<an object of the program>"

    def _refuse(self, *_: object) -> object:
        raise self.__program.fail(
            "the tests compared or inspected an object of the program (not plain data)"
        )


_REFUSED = (
    "__eq__ __ne__ __lt__ __le__ __gt__ __ge__ __hash__ __bool__ __len__ __iter__ "
    "__contains__ __getitem__ __setitem__ __delitem__ __index__ __int__ __float__ "
    "__complex__ __round__ __abs__ __neg__ __add__ __radd__ __sub__ __rsub__ __mul__ "
    "__rmul__ __truediv__ __floordiv__ __mod__ __pow__ __and__ __or__ __xor__ __enter__"
)
for _name in _REFUSED.split():
    setattr(Remote, _name, Remote._refuse)


def _handle_of(value: object) -> int:
    if type(value) is Remote:
        target = object.__getattribute__(value, "_Remote__target")
        if "h" in target:
            return int(target["h"])
    raise _wire.NotPlainData(f"a {type(value).__name__} is not plain data")


def _run_tests(program: Program, spec: dict) -> None:  # type: ignore[type-arg]
    """Prelude, then the proxies, then the tests, all in this process's own namespace."""
    first = program.receive()
    if "raise" in first:
        raise _rebuilt(first["raise"])
    offered = first.get("ready")
    if not isinstance(offered, list):
        raise program.fail("the program sent a malformed first message")
    tests = spec.get("tests") or ""
    if not tests.strip():
        return  # a program on its own: it ran to the end
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    exec(compile(spec.get("prelude") or "", "prelude.py", "exec"), namespace)
    free = set(map(str, spec.get("reads") or ())) - set(namespace) - set(dir(builtins))
    for name in free - set(map(str, offered)) & sys.stdlib_module_names:
        # tests that use a module the program imported (MBPP+/596: ``sys.getsizeof``) get
        # their own copy of it, never the program's
        namespace[name] = __import__(name)  # top-level names only: importlib costs start-up
    for name in (free & set(map(str, offered))) | set(spec.get("entry") or ()):
        namespace[name] = Remote(program, {"g": name})
    exec(compile(tests, "tests.py", "exec"), namespace)


def _outcome(exc: BaseException | None, program: Program) -> tuple[str, str]:
    if program.broken == GONE:
        return _ending(program.status)
    if program.broken:
        return "runtime_error", program.broken[:500]
    if exc is None:
        return "passed", ""
    if isinstance(exc, AssertionError):
        return "failed_assertion", _describe(exc)
    if isinstance(exc, MemoryError):
        return "memory_limit", _describe(exc)
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "output_limit", _describe(exc)
    return "runtime_error", _describe(exc)


def _ending(status: int | None) -> tuple[str, str]:
    """How the program's process ended when it stopped answering."""
    if status is None:
        return "runtime_error", "the program closed its end of the pipe"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return "time_limit", "CPU limit"
        if sig == signal.SIGXFSZ:
            return "output_limit", "file size limit"
        import signal as names  # only for this message

        return "runtime_error", f"killed by {names.Signals(sig).name}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    return "runtime_error", f"exited with status {code} before its tests completed"


def _describe(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:
        text = type(exc).__name__
    notes = getattr(exc, "__notes__", None)
    if notes:  # an exception of the program, rebuilt here: say where it was raised
        return f"{text} ({str(notes[-1])[:60]})"[:500]
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        text += f" ({tb.tb_frame.f_code.co_filename}:{tb.tb_lineno})"
    return text[:500]


def main() -> None:
    status_fd, program_fd, tests_fd = (int(a) for a in sys.argv[1:4])
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # as the namespace's init: ignored from inside
    setup = _wire.loads(sys.argv[4])
    _limits(setup)
    _site(setup.get("path") or ())
    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    os.write(status_fd, b'{"event": "started"}\n')
    start = _cpu()
    pid = os.fork()
    if pid == 0:
        try:
            keep = sorted({requests_r, replies_w, program_fd})
            low = 3
            for fd in keep:
                os.closerange(low, fd)
                low = fd + 1
            os.closerange(low, 1 << 20)
            _serve(program_fd, requests_r, replies_w)
        finally:
            os._exit(70)
    for fd in (requests_r, replies_w, program_fd):
        os.close(fd)
    program = Program(pid, requests_w, replies_r)
    error: BaseException | None = None
    try:
        spec = _wire.loads(_read_all(tests_fd))
        _run_tests(program, spec)
    except BaseException as exc:  # SystemExit too: exiting is not passing
        error = exc
    program.end()
    outcome, detail = _outcome(error, program)
    used = _cpu() - start
    _flush()
    record = {"event": "done", "outcome": outcome, "detail": detail, "cpu_seconds": used}
    os.write(status_fd, (_wire.dumps(record) + "\n").encode())
    os._exit(0)


if __name__ == "__main__":
    main()
