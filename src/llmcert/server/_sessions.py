"""Browser sessions kept on the server: the cookie holds a random session id, never an API token.

A session ends at logout, after ``idle`` seconds without a request, and
``lifetime`` seconds after sign-in, whichever comes first; revoking the token
it was opened with ends it at the next request. Only a hash of the session id
is kept, in memory: a restart signs everyone out, which is the safe failure.
One process holds the table, as ``llmcert serve`` runs one.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Session:
    token_id: str
    started: float
    seen: float


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


class SessionStore:
    def __init__(
        self,
        *,
        lifetime: float = 8 * 3600,
        idle: float = 30 * 60,
        max_sessions: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime = lifetime
        self.idle = idle
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, token_id: str) -> str:
        """A new session for the token; returns the id to put in the cookie."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._sessions[_key(session_id)] = _Session(token_id, now, now)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)  # the oldest sign-in goes first
        return session_id

    def resolve(self, session_id: str) -> str | None:
        """The token id of a live session (its idle clock restarts), else None."""
        key, now = _key(session_id), self._clock()
        with self._lock:
            found = self._sessions.get(key)
            if found is None:
                return None
            if now - found.started > self.lifetime or now - found.seen > self.idle:
                del self._sessions[key]
                return None
            found.seen = now
            return found.token_id

    def close(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(_key(session_id), None)
