"""HTTP to an OpenAI-compatible endpoint, with failures mapped onto llmcert's errors.

Connection and HTTP failures become :mod:`llmcert.errors` here, at the boundary,
so the engine decides about retries from the error's kind, not from aiohttp's.
"""

from __future__ import annotations

import email.utils
import json
import ssl
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from llmcert._version import __version__
from llmcert.errors import (
    AuthenticationError,
    BackendUnavailable,
    MalformedResponse,
    ModelTimeout,
    RateLimited,
    RequestRejected,
    ServerError,
)

__all__ = ["Connection", "Endpoint"]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _server_message(body: bytes) -> str:
    try:
        data = json.loads(body)
        err = data.get("error") if isinstance(data, dict) else None
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return str(msg)[:300]
    except (ValueError, AttributeError):
        pass
    return body[:300].decode("utf-8", "replace")


class Connection:
    """One aiohttp session per backend, created inside the running event loop.

    aiohttp is used here, not httpx, for its cost per call: against a loopback
    endpoint at 64 calls in flight it spends ~0.2 ms of CPU per request where
    httpx's transport stack spends ~1.1 ms (bench/throughput.py, BENCHMARKS.md),
    and the harness's CPU is what limits throughput at high concurrency.
    """

    def __init__(
        self,
        *,
        timeout: float,
        secure: bool,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        self._timeout = timeout
        self._secure = secure
        self._resolver = resolver  # e.g. an egress policy's, which vets every address
        self._max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0,  # concurrency is bounded by the engine, not here
                ssl=ssl.create_default_context() if self._secure else False,
                resolver=self._resolver,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout, sock_connect=min(self._timeout, 10.0)
                ),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def send(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        # Never redirected: the endpoint named is the only one a request (and its key) goes to.
        async with self.session().request(
            method, url, headers=headers, data=content, allow_redirects=False
        ) as resp:
            if self._max_response_bytes is None:
                return resp.status, resp.headers, await resp.read()
            body = await resp.content.read(self._max_response_bytes + 1)
            while len(body) <= self._max_response_bytes and not resp.content.at_eof():
                body += await resp.content.read(self._max_response_bytes + 1 - len(body))
            if len(body) > self._max_response_bytes:
                raise MalformedResponse(f"{url}: response exceeds {self._max_response_bytes} bytes")
            return resp.status, resp.headers, body

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class Endpoint:
    """One endpoint's base URL, headers and connection; the key only ever in a header."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        timeout: float,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"User-Agent": f"llmcert/{__version__}", "Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._conn = Connection(
            timeout=timeout,
            secure=self.base_url.startswith("https:"),
            resolver=resolver,
            max_response_bytes=max_response_bytes,
        )

    async def aclose(self) -> None:
        await self._conn.aclose()

    async def request(
        self, method: str, path: str, payload: dict[str, Any] | None, key: str | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        headers = self._headers
        if key:
            headers = {**headers, "Idempotency-Key": key}
        content = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else None
        try:
            return await self._conn.send(method, self.base_url + path, headers, content)
        except TimeoutError as exc:  # aiohttp's timeouts derive from it
            raise ModelTimeout(f"{self.base_url}{path}: no answer in time") from exc
        except aiohttp.ClientConnectorError as exc:
            raise BackendUnavailable(f"cannot reach {self.base_url}: {exc.os_error}") from exc
        except aiohttp.ClientError as exc:
            raise BackendUnavailable(
                f"{self.base_url}{path}: connection failed: {type(exc).__name__}: {exc}"
            ) from exc

    async def post(self, path: str, payload: dict[str, Any], key: str | None) -> dict[str, Any]:
        status, headers, body = await self.request("POST", path, payload, key)
        return self.decode(status, headers, body, path)

    def decode(
        self, status: int, headers: Mapping[str, str], body: bytes, path: str
    ) -> dict[str, Any]:
        """The JSON object of a 2xx answer; any other status as the matching error."""
        where = f"{self.base_url}{path}"
        if status >= 300:  # a redirect (never followed) is a refusal, not an answer
            if status in (401, 403):
                raise AuthenticationError(
                    f"{where} refused the credentials (HTTP {status}): set the API key in "
                    "LLMCERT_API_KEY (or the variable named by key_env=)",
                    status=status,
                )
            if status == 429:
                raise RateLimited(
                    f"{where}: rate limited (HTTP 429)",
                    retry_after=_retry_after(headers.get("retry-after")),
                )
            if status >= 500 or status in (408, 409):
                raise ServerError(f"{where}: HTTP {status}: {_server_message(body)}", status=status)
            raise RequestRejected(f"{where}: HTTP {status}: {_server_message(body)}", status=status)
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise MalformedResponse(f"{where}: response is not JSON") from exc
        if not isinstance(data, dict):
            raise MalformedResponse(f"{where}: response is not a JSON object")
        return data
