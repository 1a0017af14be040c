"""What the host gives an in-process run: its physical cores, and its files' digests.

A model file's digest is remembered for as long as its size and mtime hold, so a
run that identifies the model several times hashes it once.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from llmcert._hashing import digest_file
from llmcert.errors import ModelRefError

__all__ = ["THREADS_ENV", "StatKey", "default_threads", "file_digest", "positive", "stat_key"]

#: Environment variable overriding the thread count (a ``threads=`` reference wins).
THREADS_ENV = "LLMCERT_THREADS"

StatKey = tuple[int, int, int]  # size, mtime_ns, inode
_digest_cache: dict[tuple[str, int, int], str] = {}
_digest_lock = threading.Lock()


def stat_key(path: Path) -> StatKey:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ino


def file_digest(path: Path) -> str:
    """sha256 of a model file, remembered (in memory) for as long as size and mtime hold."""
    size, mtime_ns, _ = stat_key(path)
    key = (str(path.resolve()), size, mtime_ns)
    with _digest_lock:
        cached = _digest_cache.get(key)
    if cached is not None:
        return cached
    digest = digest_file(path)
    with _digest_lock:
        _digest_cache[key] = digest
    return digest


def _physical_cores() -> int:
    """Physical cores this process may run on: one per set of hyper-thread siblings.

    llama-cpp-python defaults to half the logical CPUs, which on a 2-core machine
    without hyper-threading is one thread of two.
    """
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        allowed = set(range(os.cpu_count() or 1))
    cores: set[str] = set()
    for cpu in allowed:
        siblings = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(siblings.read_text(encoding="ascii").strip())
        except OSError:
            cores.add(str(cpu))  # topology unknown: count the CPU itself
    return max(1, len(cores))


def positive(name: str, value: str, source: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ModelRefError(f"{name} must be a positive whole number, not {value!r} ({source})")
    return number


def default_threads() -> tuple[int, str]:
    """The thread count without a ``threads=`` reference, and where it came from."""
    value = os.environ.get(THREADS_ENV)
    if value:
        return positive("threads", value, THREADS_ENV), THREADS_ENV
    return _physical_cores(), "physical cores"
