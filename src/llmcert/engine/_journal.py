"""Journal: the durable, exactly-once record of work units and their outputs.

One SQLite file per output directory, in WAL mode. Each finished unit is committed
on its own as soon as its answer arrives, so a run killed at any moment (SIGKILL
included) keeps every answer it received, and a restart with the same command
sends only the units that have no answer yet. WAL with ``synchronous=NORMAL`` is
durable against a killed process; only a power loss may lose the last commits,
which a restart then simply asks again.

Units that were in flight when a process died are resent with the same
``Idempotency-Key`` (the request key: the unit's content under the journal's
nonce), so an endpoint that honours the header answers them once. The nonce is
bound to the first model identity the journal sees and replaced when another
model is evaluated into the same journal, so that model is never answered from
an endpoint's memory of the previous one.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmcert.errors import JournalError
from llmcert.models._types import Generation, Loglikelihoods, ModelOutput

SCHEMA_VERSION = "2"

_DDL = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    key         TEXT PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    output      TEXT,
    error       TEXT,
    error_kind  TEXT,
    attempts    INTEGER NOT NULL,
    latency_s   REAL,
    finished_at REAL NOT NULL,
    run_id      TEXT NOT NULL,
    request_key TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    first_start REAL NOT NULL,
    last_start  REAL NOT NULL,
    invocations INTEGER NOT NULL,
    conditions  TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    key: str
    status: str  # "ok" | "error"
    output: ModelOutput | None
    error: str | None
    error_kind: str | None
    attempts: int
    latency_s: float | None
    run_id: str
    request_key: str | None = None


def output_to_dict(output: ModelOutput) -> dict[str, Any]:
    """The JSON-ready form of an output, as journaled and as reported."""
    if isinstance(output, Generation):
        return {
            "type": "generation",
            "text": output.text,
            "finish_reason": output.finish_reason,
            "prompt_tokens": output.prompt_tokens,
            "completion_tokens": output.completion_tokens,
        }
    return {
        "type": "loglikelihoods",
        "logprobs": list(output.logprobs),
        "token_counts": list(output.token_counts),
        "is_greedy": list(output.is_greedy),
    }


def encode_output(output: ModelOutput) -> str:
    return json.dumps(output_to_dict(output), ensure_ascii=False)


def decode_output(text: str) -> ModelOutput:
    data: dict[str, Any] = json.loads(text)
    if data.get("type") == "generation":
        return Generation(
            data["text"],
            data.get("finish_reason"),
            data.get("prompt_tokens"),
            data.get("completion_tokens"),
        )
    return Loglikelihoods(
        tuple(data["logprobs"]), tuple(data["token_counts"]), tuple(data.get("is_greedy", ()))
    )


class Journal:
    """Exactly-once store of unit outcomes. Use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_DDL)
            row = self._db.execute("SELECT v FROM meta WHERE k='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] == "1":
                self._upgrade_from_1()
            elif row[0] != SCHEMA_VERSION:
                raise JournalError(
                    f"{path}: journal schema {row[0]} is not supported (expected {SCHEMA_VERSION})"
                )
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{path}: cannot open the journal: {exc}") from exc

    def _upgrade_from_1(self) -> None:
        """Schema 1 lacked the request key; its units keep none."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._meta("schema") == "1":  # not upgraded meanwhile by another process
                self._db.execute("ALTER TABLE units ADD COLUMN request_key TEXT")
                self._db.execute("UPDATE meta SET v=? WHERE k='schema'", (SCHEMA_VERSION,))

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT v FROM meta WHERE k=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def unbound(self) -> bool:
        """True while no model identity is bound and no unit is recorded.

        Such a journal holds no answer, so every unit of a run must be sent
        whatever model is behind the endpoint: sending may begin before the
        model's identity is known.
        """
        if self._meta("request_nonce_identity") is not None:
            return False
        return self._db.execute("SELECT 1 FROM units LIMIT 1").fetchone() is None

    def request_nonce(self, identity_digest: str | None) -> str:
        """The nonce of request keys for this model, created or replaced as needed.

        With ``None`` (the identity not known yet) the current nonce is returned,
        or a new one that the first identity given later will bind. A journal
        bound to another identity gets a fresh nonce bound to this one.
        """
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            nonce = self._meta("request_nonce")
            bound = self._meta("request_nonce_identity")
            if nonce is None or (
                identity_digest is not None and bound not in (None, identity_digest)
            ):
                nonce = secrets.token_hex(16)
                self._db.execute(
                    "INSERT INTO meta VALUES ('request_nonce', ?) "
                    "ON CONFLICT(k) DO UPDATE SET v=excluded.v",
                    (nonce,),
                )
                self._db.execute("DELETE FROM meta WHERE k='request_nonce_identity'")
                bound = None
            if identity_digest is not None and bound is None:
                self._db.execute(
                    "INSERT INTO meta VALUES ('request_nonce_identity', ?)", (identity_digest,)
                )
        return nonce

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def begin_run(self, run_id: str, conditions: dict[str, Any]) -> int:
        """Record an invocation of ``run_id``; returns how many there have been."""
        now = time.time()
        text = json.dumps(conditions, sort_keys=True, ensure_ascii=False)
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, 1, ?) ON CONFLICT(run_id) DO UPDATE SET "
                "last_start=excluded.last_start, invocations=invocations+1, conditions=excluded.conditions",
                (run_id, now, now, text),
            )
        row = self._db.execute("SELECT invocations FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return int(row[0])

    def record(
        self,
        key: str,
        *,
        output: ModelOutput | None,
        error: str | None,
        error_kind: str | None,
        attempts: int,
        latency_s: float | None,
        run_id: str,
        request_key: str | None = None,
    ) -> None:
        """Commit one unit's outcome. A success is final; an error may later be replaced."""
        status = "ok" if output is not None else "error"
        encoded = encode_output(output) if output is not None else None
        # Never overwrite an answer with an error: 'ok' rows are final.
        self._db.execute(
            "INSERT INTO units (key, status, output, error, error_kind, attempts, latency_s, "
            "finished_at, run_id, request_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET status=excluded.status, output=excluded.output, "
            "error=excluded.error, error_kind=excluded.error_kind, "
            "attempts=units.attempts+excluded.attempts, latency_s=excluded.latency_s, "
            "finished_at=excluded.finished_at, run_id=excluded.run_id, "
            "request_key=excluded.request_key WHERE units.status != 'ok'",
            (
                key,
                status,
                encoded,
                error,
                error_kind,
                attempts,
                latency_s,
                time.time(),
                run_id,
                request_key,
            ),
        )

    def lookup(self, keys: Iterable[str]) -> dict[str, JournalEntry]:
        """Entries for the given keys (absent keys are simply missing)."""
        found: dict[str, JournalEntry] = {}
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == 500:
                found.update(self._lookup_batch(batch))
                batch = []
        if batch:
            found.update(self._lookup_batch(batch))
        return found

    def _lookup_batch(self, keys: list[str]) -> Iterator[tuple[str, JournalEntry]]:
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(
            "SELECT key, status, output, error, error_kind, attempts, latency_s, run_id, "
            f"request_key FROM units WHERE key IN ({marks})",
            keys,
        )
        for key, status, output, error, kind, attempts, latency, run_id, sent_as in rows:
            decoded = decode_output(output) if output is not None else None
            yield (
                key,
                JournalEntry(key, status, decoded, error, kind, attempts, latency, run_id, sent_as),
            )

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM units").fetchone()[0])
