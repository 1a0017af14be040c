"""HTTP plumbing: one error shape, the exception mapping, security headers, body limits.

Every refusal is ``{"error": {"code", "message"}}`` with a 4xx status on the
JSON API, and a small page elsewhere. Registry errors map by kind: unknown id
404, illegal move 409, other bad input 400. The registry raised before
committing, so a refused request has changed nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmcert.errors import LlmcertError, SupplyChainError

log = logging.getLogger(__name__)

#: Pages: our stylesheet only, no script, no frames, forms post back here only.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

HtmlErrorRenderer = Callable[[Request, int, str, str], Response]


class ApiError(Exception):
    """A refusal with its HTTP status and a stable machine-readable code."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _reply(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response:
    renderer: HtmlErrorRenderer | None = getattr(request.app.state, "html_error", None)
    if renderer is not None and not is_api(request):
        response = renderer(request, status, code, message)
    else:
        response = JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _registry_status(exc: Exception) -> tuple[int, str]:
    from llmcert.registry import IllegalTransition, QuotaExceeded, RecordNotFound

    if isinstance(exc, RecordNotFound):
        return 404, "not_found"
    if isinstance(exc, QuotaExceeded):
        return 409, "quota_exceeded"
    if isinstance(exc, IllegalTransition):
        return 409, "illegal_transition"
    return 400, "rejected"


def install_error_handlers(app: FastAPI) -> None:
    from llmcert.certificates import CertificateError
    from llmcert.registry import RegistryError

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _reply(request, exc.status, exc.code, exc.message, exc.headers)

    async def registry_error(request: Request, exc: Exception) -> Response:
        status, code = _registry_status(exc)
        return _reply(request, status, code, str(exc))

    async def certificate_error(request: Request, exc: Exception) -> Response:
        return _reply(request, 400, "certificate_rejected", str(exc))

    async def server_fault(request: Request, exc: Exception) -> Response:
        # A key or signing tool problem is the operator's to fix, not the caller's.
        log.error("request %s %s failed: %s", request.method, request.url.path, exc)
        return _reply(request, 503, "server_misconfigured", "the server cannot sign right now")

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _reply(request, 400, "malformed_json", "the request body is not valid JSON")
        parts = []
        for err in errors[:5]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _reply(request, 422, "invalid_request", "; ".join(parts) or "invalid request")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _reply(request, exc.status_code, code, str(exc.detail), dict(exc.headers or {}))

    async def llmcert_error(request: Request, exc: Exception) -> Response:
        return _reply(request, 400, "rejected", str(exc))

    async def data_error(request: Request, exc: Exception) -> Response:
        # The database refused a value (e.g. NUL on PostgreSQL): the input's fault, not ours.
        log.warning("request %s %s: database refused a value", request.method, request.url.path)
        return _reply(request, 400, "invalid_input", "a value in the request cannot be stored")

    from sqlalchemy.exc import DataError

    app.add_exception_handler(DataError, data_error)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RegistryError, registry_error)
    app.add_exception_handler(CertificateError, certificate_error)
    app.add_exception_handler(SupplyChainError, server_fault)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(LlmcertError, llmcert_error)


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """Security headers on every response; 413 for a body over its route's limit.

    ``body_limit(method, path)`` gives each route its own limit. The size is
    checked from Content-Length first and then counted as the body streams in,
    so a chunked upload cannot slip past the limit either, and nothing is
    parsed before it is known to fit.
    """

    def __init__(self, app: ASGIApp, *, body_limit: Callable[[str, str], int]) -> None:
        self.app = app
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        https = scope.get("scheme") == "https"
        if _has_control(path, scope.get("query_string", b"")):
            await _refuse(send, path, 400, "invalid_characters", "control characters in the URL")
            return
        max_body = self.body_limit(scope.get("method", "GET"), path)
        declared = _content_length(scope)
        over = declared is not None and declared > max_body
        replaced = False
        seen = 0

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the app's own answer to a cut-off body is dropped
            if message["type"] == "http.response.start":
                if over:
                    replaced = True
                    await _too_large(max_body, send, path)
                    return
                message = {**message, "headers": _with_headers(message, path, https)}
            await send(message)

        async def counting_receive() -> Message:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_body:
                    over = True
                    raise _TooLarge
            return message

        if over:
            await _too_large(max_body, send, path)
            return
        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not replaced:
                await _too_large(max_body, send, path)


def _with_headers(message: Message, path: str, https: bool = False) -> list[tuple[bytes, bytes]]:
    headers = list(message.get("headers", []))
    present = {name.lower() for name, _ in headers}
    extra = list(_HEADERS)
    if not path.startswith("/api/"):
        extra.append((b"content-security-policy", PAGE_CSP.encode()))
    if not path.startswith("/static/"):
        # Pages and answers may carry what only a signed-in user may see: never kept by a cache.
        extra.append((b"cache-control", b"no-store"))
    if https:
        extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    headers.extend(h for h in extra if h[0] not in present)
    return headers


def _has_control(path: str, query: bytes) -> bool:
    """NUL or another control character in the path or a query parameter (decoded)."""
    decoded = unquote_to_bytes(query.replace(b"+", b" "))
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in path) or any(
        b < 0x20 or b == 0x7F for b in decoded
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(limit: int, send: Callable[[Message], Awaitable[None]], path: str) -> None:
    await _refuse(send, path, 413, "too_large", f"request body exceeds {limit} bytes")


async def _refuse(
    send: Callable[[Message], Awaitable[None]], path: str, status: int, code: str, message: str
) -> None:
    """A JSON refusal sent before the application sees the request."""
    body = json.dumps(json_error_body(code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _with_headers(
                {
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ]
                },
                path,
            ),
        }
    )
    await send({"type": "http.response.body", "body": body})


def json_error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
