"""Who may call what: the authorisation matrix as data, and the checks that read it.

``ACCESS`` maps every endpoint (by route name) to the principals allowed to
call it: the three token roles, and ``anonymous`` for public endpoints. The app
refuses to build a route the matrix does not name, and the tests walk the whole
matrix, so the table is the authorisation policy, not a comment about it.

The JSON API takes ``Authorization: Bearer <secret>`` only; pages take the
session id (a server-side session opened by signing in with a token, never
the token itself) from an HttpOnly, SameSite=Strict cookie only, and every form post there
carries a CSRF token bound to a per-browser cookie by an HMAC with a key that
lives only in this process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from fastapi import Request

from llmcert.registry import Registry, Role, TokenRecord
from llmcert.server._http import ApiError
from llmcert.server._ratelimit import RateLimiter
from llmcert.server._sessions import SessionStore

ANONYMOUS = "anonymous"
PRINCIPALS: tuple[str, ...] = (ANONYMOUS, *(r.value for r in Role))
SESSION_COOKIE = "llmcert_session"
CSRF_COOKIE = "llmcert_csrf"
CSRF_FIELD = "csrf_token"

_PUBLIC = frozenset(PRINCIPALS)
_SIGNED_IN = frozenset(r.value for r in Role)
_APPLICANT = frozenset({Role.APPLICANT.value})
_ASSESSOR = frozenset({Role.ASSESSOR.value})
_ADMIN = frozenset({Role.ADMIN.value})
_OVERSIGHT = frozenset({Role.ASSESSOR.value, Role.ADMIN.value})

#: Endpoint (route name) → who may call it. Applicants additionally see only their own records.
ACCESS: Mapping[str, frozenset[str]] = {
    # JSON API
    "whoami": _SIGNED_IN,
    "register_model": _APPLICANT,
    "get_model": _SIGNED_IN,
    "submit_filing": _APPLICANT,
    "list_filings": _SIGNED_IN,
    "get_filing": _SIGNED_IN,
    "download_attachment": _SIGNED_IN,
    "get_filing_assessment": _SIGNED_IN,
    "get_filing_report": _SIGNED_IN,
    "approve_filing": _ASSESSOR,
    "reject_filing": _ASSESSOR,
    "renew_certificate": _APPLICANT,
    "set_certificate_status": _OVERSIGHT,
    "create_token": _ADMIN,
    "list_tokens": _ADMIN,
    "revoke_token": _ADMIN,
    "audit_log": _ADMIN,
    "list_certificates": _PUBLIC,
    "get_certificate": _PUBLIC,
    "verify_certificate": _PUBLIC,
    "issuer_info": _PUBLIC,
    # pages
    "page_index": _PUBLIC,
    "page_certificate": _PUBLIC,
    "page_certificate_download": _PUBLIC,
    "page_verify_form": _PUBLIC,
    "page_verify": _PUBLIC,
    "page_assessment": _PUBLIC,
    "page_stylesheet": _PUBLIC,
    "page_login_form": _PUBLIC,
    "page_login": _PUBLIC,
    "page_logout": _SIGNED_IN,
    "page_filings": _SIGNED_IN,
    "page_model_new": _APPLICANT,
    "page_model_create": _APPLICANT,
    "page_filing_new": _APPLICANT,
    "page_filing_create": _APPLICANT,
    "page_review_list": _ASSESSOR,
    "page_review": _ASSESSOR,
    "page_review_report": _ASSESSOR,
    "page_review_decide": _ASSESSOR,
}

Principal = TokenRecord | None
Credential = Literal["bearer", "cookie"]


def role_of(principal: Principal) -> str:
    return principal.role.value if principal is not None else ANONYMOUS


def bearer_secret(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def unauthenticated(message: str, credential: Credential) -> ApiError:
    headers = {"WWW-Authenticate": 'Bearer realm="llmcert"'} if credential == "bearer" else {}
    return ApiError(401, "unauthenticated", message, headers=headers)


async def authenticate(registry: Registry, secret: str | None) -> Principal:
    if not secret:
        return None
    return await asyncio.to_thread(registry.authenticate, secret)


def require(name: str, credential: Credential) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency enforcing ``ACCESS[name]``; KeyError at build time for an unlisted route."""
    allowed = ACCESS[name]

    async def dependency(request: Request) -> Principal:
        registry: Registry = request.app.state.registry
        if credential == "bearer":
            secret = bearer_secret(request)
            principal = await authenticate(registry, secret)
        else:
            secret = request.cookies.get(SESSION_COOKIE)
            principal = await session_principal(request, secret)
        if principal is None:
            _throttle(request)  # anonymous callers and failed sign-ins, per client
        if ANONYMOUS in allowed:
            return principal  # public: a stale or forged credential is simply ignored
        if principal is None:
            reason = "invalid or revoked token" if secret else "a token is required"
            raise unauthenticated(reason, credential)
        if principal.role.value not in allowed:
            raise ApiError(
                403, "forbidden", f"role {principal.role.value!r} may not do this ({name})"
            )
        return principal

    dependency.__name__ = f"require_{name}"
    return dependency


async def session_principal(request: Request, session_id: str | None) -> Principal:
    """The signed-in token of a live server-side session (still unrevoked), else None."""
    sessions: SessionStore = request.app.state.sessions
    token_id = sessions.resolve(session_id) if session_id else None
    if token_id is None:
        return None
    registry: Registry = request.app.state.registry
    principal = await asyncio.to_thread(registry.active_token, token_id)
    if principal is None and session_id:
        sessions.close(session_id)
    return principal


def _throttle(request: Request) -> None:
    limiter: RateLimiter | None = getattr(request.app.state, "anonymous_limiter", None)
    if limiter is None:
        return
    client = request.client.host if request.client is not None else "unknown"
    wait = limiter.acquire(client)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            "too many requests without a valid token from this address: slow down",
            headers={"Retry-After": limiter.retry_after_header(wait)},
        )


# -- CSRF ----------------------------------------------------------------------


def new_csrf_cookie() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(key: bytes, cookie_value: str) -> str:
    return hmac.new(key, cookie_value.encode("utf-8"), hashlib.sha256).hexdigest()


def check_csrf(request: Request, submitted: object) -> None:
    """403 unless the form's token is the HMAC of this browser's CSRF cookie."""
    key: bytes = request.app.state.csrf_key
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not isinstance(submitted, str) or not submitted:
        raise ApiError(403, "csrf", "missing CSRF token: reload the form and try again")
    if not hmac.compare_digest(csrf_token(key, cookie), submitted):
        raise ApiError(403, "csrf", "bad CSRF token: reload the form and try again")
