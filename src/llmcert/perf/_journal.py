"""The run journal: every finished request on disk as it finishes, so a crash loses none.

One append-only JSON Lines file beside the report. The first line says what was
measured (target, load, workload, SLOs); then the client self-test, each request's
trace as it completes, each sweep step, the meter's reading and a last ``end`` line.
Each line is a single ``write(2)``, so a killed process (SIGINT, SIGKILL) leaves every
line it wrote; as in the engine's journal, the file is synced at phase boundaries
rather than per line, so only a power loss may take the last lines, and a torn last
line is ignored on reading.

A latency run is never resumed. The figures are only meaningful for the load as it
was offered: a second half started later meets a server in another state (warm
caches, other neighbours) and a restarted arrival schedule. An interrupted run is
reported as it stands — marked incomplete, never a PASS — and measured again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcert.perf._errors import PerfError

JOURNAL_NAME = "perf.journal.jsonl"
JOURNAL_SCHEMA = "llmcert.perf-journal/1"


class PerfJournal:
    """Append-only writer. ``record`` is cheap enough to call on the event loop per request."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644
            )
        except FileExistsError:
            raise PerfError(
                f"{path} already holds a run's journal; a latency run is not resumed "
                "(a restarted schedule would change the load it measures): report it with "
                "--from-journal, or measure again into a new output directory"
            ) from None
        except OSError as exc:
            raise PerfError(f"cannot create the run journal {path}: {exc.strerror}") from None
        self.record("run", {"schema": JOURNAL_SCHEMA, **header})
        self.sync()

    def record(self, kind: str, payload: dict[str, Any]) -> None:
        if self._fd is None:
            return
        line = json.dumps({"kind": kind, **payload}, separators=(",", ":"), ensure_ascii=False)
        try:
            os.write(self._fd, line.encode() + b"\n")
        except OSError as exc:  # a full disk stops the run: its record would be lost
            raise PerfError(f"cannot write the run journal {self.path}: {exc.strerror}") from None

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None


@dataclass
class JournalContents:
    """What a journal holds, complete or not."""

    header: dict[str, Any]
    selftest: dict[str, Any] | None = None
    load_started: dict[str, Any] | None = None
    traces: list[dict[str, Any]] = field(default_factory=list)
    load_done: dict[str, Any] | None = None
    sweep_steps: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None
    #: Lines that could not be read (a line torn by a crash mid-write).
    torn: int = 0

    @property
    def complete(self) -> bool:
        return self.end is not None


def journal_path(location: Path) -> Path:
    """The journal file for a journal path or the directory that holds one."""
    return location / JOURNAL_NAME if location.is_dir() else location


def read_journal(location: Path) -> JournalContents:
    path = journal_path(location)
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise PerfError(f"cannot read the run journal {path}: {exc.strerror or exc}") from None
    contents: JournalContents | None = None
    torn = 0
    for raw in lines:
        try:
            entry = json.loads(raw)
            kind = entry.pop("kind")
        except (ValueError, KeyError, AttributeError, TypeError):
            torn += 1
            continue
        if contents is None:
            if kind != "run" or entry.get("schema") != JOURNAL_SCHEMA:
                raise PerfError(f"{path} is not an llmcert perf journal ({JOURNAL_SCHEMA})")
            contents = JournalContents(header=entry)
        elif kind == "selftest":
            contents.selftest = entry
        elif kind == "load_started":
            contents.load_started = entry
        elif kind == "trace":
            contents.traces.append(entry["trace"])
        elif kind == "load_done":
            contents.load_done = entry
        elif kind == "sweep_step":
            contents.sweep_steps.append(entry)
        elif kind == "end":
            contents.end = entry
    if contents is None:
        raise PerfError(f"{path} is empty or not an llmcert perf journal")
    contents.torn = torn
    return contents
