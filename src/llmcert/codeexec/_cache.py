"""Executions cached by content: the same program, tests, policy and limits never run twice.

The key is the digest of exactly what decides an outcome; a sandbox failure is
never cached (it says nothing about the code, and may not happen again).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from llmcert._hashing import digest_json
from llmcert.sandbox import Execution, Outcome, SandboxPolicy


def execution_key(
    program: str,
    tests: str,
    policy: SandboxPolicy,
    *,
    prelude: str = "",
    entry: Sequence[str] = (),
) -> str:
    return digest_json(
        {
            "program": program,
            "tests": tests,
            "prelude": prelude,
            "entry": list(entry),
            "policy": policy.digest(),
        }
    )


class ExecutionCache:
    """A small SQLite table from execution key to the recorded :class:`Execution`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._memory: dict[str, Execution] = {}
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS executions (key TEXT PRIMARY KEY, record TEXT NOT NULL)"
            )
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Execution | None:
        with self._lock:
            found = self._memory.get(key)
            if found is None and self._db is not None:
                row = self._db.execute(
                    "SELECT record FROM executions WHERE key = ?", (key,)
                ).fetchone()
                if row is not None:
                    found = Execution.model_validate_json(row[0])
                    self._memory[key] = found
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
            return found

    def put(self, key: str, execution: Execution) -> None:
        if execution.outcome is Outcome.SANDBOX_FAILURE:
            return
        with self._lock:
            self._memory[key] = execution
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO executions (key, record) VALUES (?, ?)",
                    (key, execution.model_dump_json()),
                )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
