"""Where monitoring results go: an append-only JSON-lines log and an optional webhook.

A webhook is best effort. Its failure (down, slow, answering 500) is logged
and retried a few times, never raised: a broken receiver must not stop the
checks that protect certificate holders' users. A webhook URL often carries a
token in its path, so only its scheme and host are ever written to a log.
Redirects are not followed, so a payload never travels anywhere but the
address configured.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from llmcert.errors import SpecError

log = logging.getLogger(__name__)

#: Attempts per notification, and the first pause between them (doubled each time).
WEBHOOK_ATTEMPTS = 3
WEBHOOK_BACKOFF_S = 0.5
WEBHOOK_TIMEOUT_S = 10.0
#: HTTP statuses worth another attempt: the receiver may recover.
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def check_webhook_url(url: str) -> str:
    """Accept only absolute http(s) URLs with a host; say why otherwise (without echoing it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise SpecError("the webhook is not a valid URL", field="webhook") from None
    if parts.scheme not in ("http", "https"):
        raise SpecError(
            f"the webhook must be an http:// or https:// URL, not {parts.scheme or 'schemeless'!r}",
            field="webhook",
        )
    if not parts.hostname:
        raise SpecError("the webhook URL has no host", field="webhook")
    return url


def webhook_label(url: str) -> str:
    """Scheme and host (and port) only: paths and queries may hold a token."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


@dataclass(frozen=True)
class Delivery:
    """What became of one notification."""

    delivered: bool
    attempts: int
    status: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "attempts": self.attempts,
            "status": self.status,
            "error": self.error,
        }


async def post_webhook(
    url: str,
    payload: Mapping[str, Any],
    *,
    attempts: int = WEBHOOK_ATTEMPTS,
    backoff_s: float = WEBHOOK_BACKOFF_S,
    timeout_s: float = WEBHOOK_TIMEOUT_S,
) -> Delivery:
    """POST ``payload`` as JSON; retried on network errors and 408/429/5xx; never raises."""
    import httpx

    body = json.dumps(dict(payload), ensure_ascii=False, sort_keys=True).encode("utf-8")
    headers = {"content-type": "application/json", "user-agent": "llmcert-monitor"}
    status: int | None = None
    error: str | None = None
    tries = 0
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client:
            for tries in range(1, max(1, attempts) + 1):
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    # The exception text may quote the URL: keep only its type.
                    status, error = None, type(exc).__name__
                else:
                    status = response.status_code
                    if 200 <= status < 300:
                        return Delivery(True, tries, status)
                    error = f"HTTP {status}"
                    if status not in _RETRY_STATUSES:
                        break
                if tries < attempts:
                    await asyncio.sleep(backoff_s * 2 ** (tries - 1))
    except Exception as exc:  # a notification must never stop the monitor
        error = type(exc).__name__
    log.warning(
        "webhook %s not delivered after %d attempt(s): %s", webhook_label(url), tries, error
    )
    return Delivery(False, tries, status, error)


class JsonLinesLog:
    """Appends one JSON object per line; each line is written and flushed whole."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(dict(record), ensure_ascii=False, sort_keys=True, allow_nan=False)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())


__all__ = [
    "Delivery",
    "JsonLinesLog",
    "check_webhook_url",
    "post_webhook",
    "webhook_label",
]
