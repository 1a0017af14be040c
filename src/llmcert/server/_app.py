"""``create_app``: one FastAPI application over one registry, built from arguments only.

Nothing is global: two apps in one process (as in the tests) share nothing but
code. The signing keys are checked here, at start-up, so a misconfigured
server fails before it accepts a filing rather than at the first approval.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from llmcert._version import __version__
from llmcert.egress import Egress
from llmcert.registry import Registry
from llmcert.server._api import build_api_router
from llmcert.server._auth import ACCESS
from llmcert.server._config import Limits, Publishing, SigningConfig
from llmcert.server._http import GuardMiddleware, install_error_handlers
from llmcert.server._pages import build_page_router, html_error
from llmcert.server._ratelimit import RateLimiter
from llmcert.server._sessions import SessionStore
from llmcert.server._standards import StandardCatalog
from llmcert.server._state import ServerState
from llmcert.server._worker import AssessmentWorker, FilingProcessor

_DESCRIPTION = (
    "Certification registry of llmcert: applicants register models and file them against a "
    "standard with their evidence; the assessment runs in the background; assessors review "
    "and approve or reject; approval issues a signed certificate anyone can verify."
)


def create_app(
    registry: Registry,
    *,
    worker: AssessmentWorker,
    signing: SigningConfig,
    limits: Limits,
    egress: Egress | None = None,
    standards: StandardCatalog | None = None,
    publishing: Publishing | None = None,
) -> FastAPI:
    """The REST API (``/api/v1``, spec at ``/openapi.json``) and the web pages, over ``registry``.

    ``egress`` decides which model references applicants may register (default:
    remote endpoints at public addresses, no credentials); ``standards`` which
    standards they may file against (default: the package's). Give the worker
    the same two, so what is accepted is also what is assessed. ``publishing``
    names the files the signed audit anchor and revocation list are kept in.
    """
    key_id = signing.check()
    processor = FilingProcessor(registry, worker)

    publisher = None
    if publishing is not None and publishing.enabled:
        publisher = Publisher(registry, signing, publishing)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await processor.resume()
        task = asyncio.get_running_loop().create_task(publisher.run()) if publisher else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await processor.cancel()
            close = getattr(worker, "aclose", None)
            if close is not None:
                await close()

    app = FastAPI(
        title="llmcert registry",
        version=__version__,
        description=_DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,  # the interactive docs pull scripts from a CDN; the CSP forbids that
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.server = ServerState(
        registry=registry,
        signing=signing,
        limits=limits,
        processor=processor,
        key_id=key_id,
        public_key_pem=signing.public_key_path.read_text(encoding="ascii"),
        egress=egress if egress is not None else Egress(),
        standards=standards if standards is not None else StandardCatalog.builtin(),
    )
    app.state.registry = registry
    app.state.csrf_key = secrets.token_bytes(32)
    app.state.anonymous_limiter = RateLimiter(limits.anonymous_rate, limits.anonymous_burst)
    app.state.sessions = SessionStore(lifetime=limits.session_lifetime, idle=limits.session_idle)
    app.state.html_error = html_error
    install_error_handlers(app)
    routers = (build_api_router(), build_page_router())
    for router in routers:
        app.include_router(router)
    app.state.route_table = _route_table(routers)
    app.add_middleware(GuardMiddleware, body_limit=limits.body_bytes)
    return app


@dataclass(frozen=True)
class RouteInfo:
    name: str
    method: str
    path: str


def _route_table(routers: tuple[APIRouter, ...]) -> tuple[RouteInfo, ...]:
    """Every endpoint; fails unless the authorisation matrix names exactly these."""
    table = tuple(
        RouteInfo(route.name, method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods or ())
    )
    names = {info.name for info in table}
    if names != set(ACCESS):
        missing, stale = sorted(names - set(ACCESS)), sorted(set(ACCESS) - names)
        raise RuntimeError(f"authorisation matrix out of date: unlisted {missing}, unused {stale}")
    return table


def routes_of(app: FastAPI) -> tuple[RouteInfo, ...]:
    """The app's endpoints (name, method, path), e.g. to walk the authorisation matrix."""
    table: tuple[RouteInfo, ...] = app.state.route_table
    return table


def processor_of(app: FastAPI) -> FilingProcessor:
    """The app's filing processor (``await processor_of(app).drain()`` waits for assessments)."""
    state: ServerState = app.state.server
    return state.processor


class Publisher:
    """Re-signs the anchor and revocation list whenever the audit head has moved."""

    def __init__(self, registry: Registry, signing: SigningConfig, publishing: Publishing) -> None:
        self.registry = registry
        self.signing = signing
        self.publishing = publishing
        self.published_seq: int | None = None

    def publish_if_moved(self) -> bool:
        from llmcert.services.publish import publish_registry

        seq, _ = self.registry.audit_head()
        if seq == self.published_seq:
            return False
        done = publish_registry(
            self.registry,
            private_key_path=self.signing.private_key_path,
            issuer=self.signing.issuer,
            anchor=self.publishing.anchor,
            revocations=self.publishing.revocations,
        )
        self.published_seq = done.seq
        return True

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.publish_if_moved)
            except Exception:  # a broken log or a full disk: say so, keep serving, try again
                logging.getLogger(__name__).exception("publishing the audit anchor failed")
            await asyncio.sleep(self.publishing.interval)
