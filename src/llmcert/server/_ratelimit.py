"""A token bucket per client for requests that carry no valid credential.

Public endpoints (certificate lookup, verification, the pages) and failed
sign-ins are where an anonymous caller can make the server work; each client
address gets ``rate`` requests per second with bursts of ``burst``. Buckets of
the least recently seen clients are dropped beyond ``max_clients``, so the
table itself cannot be grown without bound. Behind a reverse proxy every
client shares the proxy's address: run uvicorn with the proxy's forwarded
headers trusted, or rate-limit at the proxy.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float | None:
        """None if ``client`` may go ahead (a token is spent), else seconds until it may."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return None if allowed else max(0.001, (1.0 - tokens) / self.rate)

    def retry_after_header(self, wait: float) -> str:
        return str(max(1, math.ceil(wait)))
