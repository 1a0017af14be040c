"""The fake server's request log: in memory for assertions, optionally as JSON lines on disk."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One line of the request log.

    ``outcome`` is the HTTP status sent, or ``"dropped"``, ``"malformed"``, ``"timeout"``
    for injected faults. ``generated`` is true when this request produced a *new* answer
    (even if a fault then lost it); ``replay`` when a stored answer was sent again.
    """

    time: float
    method: str
    path: str
    model: str | None
    idempotency_key: str | None
    outcome: int | str
    replay: bool = False
    generated: bool = False
    fault: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


class RequestLog:
    """Request log shared by the server's event loop and any thread reading it."""

    def __init__(self, log_path: Path | str | None) -> None:
        self._log_path = Path(log_path) if log_path is not None else None
        self._log_file: IO[str] | None = None
        self._records: list[RequestRecord] = []
        self._record_lock = threading.Lock()

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the in-memory request log, oldest first."""
        with self._record_lock:
            return list(self._records)

    def clear_requests(self) -> None:
        """Forget the in-memory log (the log file is kept), e.g. after a warm-up."""
        with self._record_lock:
            self._records.clear()

    def count(
        self,
        *,
        path: str | None = None,
        outcome: int | str | None = None,
        method: str | None = None,
        replay: bool | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        """How many logged requests match every given criterion."""
        return sum(
            1
            for r in self.requests
            if (path is None or r.path == path)
            and (outcome is None or r.outcome == outcome)
            and (method is None or r.method == method)
            and (replay is None or r.replay == replay)
            and (idempotency_key is None or r.idempotency_key == idempotency_key)
        )

    def generations_by_key(self) -> dict[str, int]:
        """Idempotency key → number of new (non-replay) answers produced for it."""
        counts: dict[str, int] = {}
        for r in self.requests:
            if r.generated and r.idempotency_key is not None:
                counts[r.idempotency_key] = counts.get(r.idempotency_key, 0) + 1
        return counts

    def _record(self, record: RequestRecord) -> None:
        with self._record_lock:
            self._records.append(record)
            if self._log_file is not None:
                self._log_file.write(record.to_json() + "\n")
                self._log_file.flush()

    def _open_log(self) -> None:
        if self._log_path is not None:
            with self._record_lock:
                self._log_file = self._log_path.open("a", encoding="utf-8")

    def _close_log(self) -> None:
        with self._record_lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
