"""The seccomp layer: a BPF program bubblewrap loads before the sandboxed code starts.

A deny list over an allowing default, because CPython and its extension
modules use a wide and version-dependent set of system calls; what is denied
is everything that reaches beyond the process: debugging other processes,
mounting, kernel modules and kexec, BPF and perf, keyrings, new namespaces,
io_uring (which bypasses the filter), and sockets of any family but AF_UNIX.
Calls on other architectures (i386, x32) are killed by libseccomp's default.

The program is built with libseccomp through ``pyseccomp`` (ctypes) and
exported as raw BPF, so the interpreter running llmcert needs no binding of
its own to the system's Python.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from llmcert._hashing import digest_json

#: Denied with EPERM, whatever the arguments.
DENIED: tuple[str, ...] = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "unshare",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "syslog",
    "vhangup",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "personality",
    "lookup_dcookie",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
)

#: clone(2) flags that would create a namespace; clone3 cannot be inspected, so
#: it answers ENOSYS and the C library falls back to clone, which can.
_NAMESPACE_FLAGS = (
    0x10000000,  # CLONE_NEWUSER
    0x00020000,  # CLONE_NEWNS
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
    0x08000000,  # CLONE_NEWIPC
    0x04000000,  # CLONE_NEWUTS
    0x02000000,  # CLONE_NEWCGROUP
)

SECCOMP_VERSION = digest_json(
    {
        "denied": DENIED,
        "clone_flags": _NAMESPACE_FLAGS,
        "socket": "AF_UNIX only",
        "clone3": "ENOSYS",
    }
)


class SeccompUnavailable(RuntimeError):
    """libseccomp or its ctypes binding cannot be loaded."""


@lru_cache(maxsize=4)
def seccomp_program(*, deny_inet_sockets: bool = True) -> bytes:
    """The filter as raw BPF (``struct sock_filter`` array), as ``bwrap --seccomp`` reads it."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as exc:  # OSError: libseccomp.so.2 missing
        raise SeccompUnavailable(str(exc)) from exc
    flt = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED:
        flt.add_rule(sc.ERRNO(errno.EPERM), name)
    for flag in _NAMESPACE_FLAGS:
        flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    if deny_inet_sockets:
        flt.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), "socket", sc.Arg(0, sc.NE, socket.AF_UNIX))
    fd = os.memfd_create("llmcert-seccomp")
    try:
        with os.fdopen(os.dup(fd), "wb") as out:
            flt.export_bpf(out)
        return os.pread(fd, os.fstat(fd).st_size, 0)
    finally:
        os.close(fd)


@contextmanager
def data_fd(data: bytes, name: str) -> Iterator[int]:
    """An inheritable file descriptor holding ``data``, rewound, for ``bwrap --seccomp/--file``."""
    fd = os.memfd_create(name, 0)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)
