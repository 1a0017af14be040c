"""The registry served for real: uvicorn on a loopback port, driven by a headless Chromium.

One server (a throwaway SQLite registry, fresh issuer keys, an admin token made
through the registry and an applicant and an assessor token made through the
API by that admin) lives for the whole session; so does one Chromium with a
fresh profile. Each test gets a clean page (no cookies) and a ``shoot`` helper
whose screenshots land in the pytest tmp dir and in ``test-artifacts/e2e/`` at
the repository root, where CI keeps them. The browser may only talk to the
server: any other request is aborted and fails the test.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import BrowserContext, Page, Playwright, Route, sync_playwright

from llmcert.models._types import ModelIdentity
from llmcert.registry import FilingRecord, Registry, open_registry
from llmcert.server import Limits, SigningConfig, WorkerResult, create_app, processor_of
from tests.conftest import make_keypair
from tests.server.conftest import (
    STANDARD_REF,
    TEST_EGRESS,
    FakeWorker,
    identity_for,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
WAIT_SECONDS = 30.0
_FAILED = pytest.StashKey[bool]()


@dataclass
class GatedWorker:
    """The fake worker of the server tests, behind a gate a test can hold shut.

    While the gate is shut an assessment waits, so the applicant is sure to see
    the filing still pending; opening it lets the assessment finish.
    """

    inner: FakeWorker
    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def run(self, filing: FilingRecord) -> WorkerResult:
        if not self.gate.is_set():
            await asyncio.to_thread(self.gate.wait, WAIT_SECONDS)
        return await self.inner.run(filing)


@dataclass
class LiveServer:
    """A running app, its registry and worker, and a plain HTTP client for API calls."""

    app: FastAPI
    registry: Registry
    worker: GatedWorker
    base_url: str
    secrets: dict[str, str]
    loop: asyncio.AbstractEventLoop
    http: httpx.Client

    def url(self, path: str) -> str:
        return self.base_url + path

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"}

    def api(self, method: str, path: str, role: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = self.auth(role) if role else {}
        return self.http.request(method, path, headers=headers, **kwargs)

    def drain(self) -> None:
        """Wait, on the server's own loop, until every scheduled assessment has finished."""
        future = asyncio.run_coroutine_threadsafe(processor_of(self.app).drain(), self.loop)
        future.result(timeout=WAIT_SECONDS)

    @contextmanager
    def assessments_held(self) -> Iterator[None]:
        self.worker.gate.clear()
        try:
            yield
        finally:
            self.worker.gate.set()

    def expect_model(self, name: str, verdict: str = "pass") -> ModelIdentity:
        """The identity a model of this name will have; its assessment will say ``verdict``."""
        identity = identity_for(name)
        self.worker.inner.identities[name] = identity
        self.worker.inner.verdicts[name] = verdict
        return identity

    def certify(self, name: str) -> dict[str, Any]:
        """Register, file, assess and approve through the API: the certificate's JSON."""
        identity = self.expect_model(name)
        model = self.api(
            "POST",
            "/api/v1/models",
            "applicant",
            json={"name": name, "ref": identity.ref, "identity_digest": identity.digest},
        )
        assert model.status_code == 201, model.text
        filing = self.api(
            "POST",
            "/api/v1/filings",
            "applicant",
            data={"model_id": model.json()["id"], "standard_ref": STANDARD_REF},
            files=[("attachments", ("agreement.txt", b"we agree", "text/plain"))],
        )
        assert filing.status_code == 202, filing.text
        self.drain()
        approved = self.api(
            "POST",
            f"/api/v1/filings/{filing.json()['id']}/approve",
            "assessor",
            json={"comment": "evidence complete"},
        )
        assert approved.status_code == 200, approved.text
        return dict(approved.json())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(
    directory: Path, limits: Limits | None = None, database_url: str | None = None
) -> Iterator[LiveServer]:
    """Build the app over a new registry (SQLite in ``directory``, or ``database_url``)."""
    registry = open_registry(database_url or f"sqlite:///{directory / 'registry.sqlite'}")
    private, public = make_keypair(directory / "keys")
    worker = GatedWorker(FakeWorker(registry))
    app = create_app(
        registry,
        worker=worker,
        signing=SigningConfig(private, public, issuer="E2E Registry", validity_days=30),
        # The fuzzer and the browser call anonymously far more often than a person would.
        limits=limits
        or Limits(
            max_attachment_bytes=64 * 1024,
            max_attachments=3,
            anonymous_rate=1000.0,
            anonymous_burst=100_000,
        ),
        egress=TEST_EGRESS,
    )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(server.serve(),), daemon=True, name="e2e-uvicorn"
    )
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        ready = threading.Event()
        for _ in range(int(WAIT_SECONDS / 0.05)):
            if server.started or not thread.is_alive():
                break
            ready.wait(0.05)
        if not server.started:
            raise RuntimeError(f"uvicorn did not start on {base_url}")
        with httpx.Client(base_url=base_url, timeout=WAIT_SECONDS, trust_env=False) as http:
            _, admin = registry.create_token("e2e-admin", "admin", actor="e2e-setup")
            secrets = {"admin": admin}
            for role in ("applicant", "assessor"):
                made = http.post(
                    "/api/v1/tokens",
                    json={"name": f"e2e-{role}", "role": role},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                assert made.status_code == 201, made.text
                secrets[role] = made.json()["secret"]
            yield LiveServer(app, registry, worker, base_url, secrets, loop, http)
    finally:
        worker.gate.set()
        server.should_exit = True
        thread.join(timeout=WAIT_SECONDS)
        loop.close()
        registry.close()


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(tmp_path_factory.mktemp("e2e-server")) as server:
        yield server


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return tmp_path_factory.mktemp("screenshots")


# Package scope, not session: Playwright's sync API keeps an event loop running in this
# thread until it stops, and every async test after the browser tests needs that loop gone.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: run `apt-get install chromium`",
            pytrace=False,
        )
    with sync_playwright() as driver:
        yield driver


@dataclass
class Guard:
    """Records every request the browser tried to send anywhere but the server."""

    origin: str
    blocked: list[str] = field(default_factory=list)

    def __call__(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()


@pytest.fixture(scope="package")
def guard(live: LiveServer) -> Guard:
    return Guard(live.base_url)


@pytest.fixture(scope="package")
def browser(
    playwright: Playwright, guard: Guard, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    context = playwright.chromium.launch_persistent_context(
        tmp_path_factory.mktemp("chromium-profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        accept_downloads=True,
        viewport={"width": 1280, "height": 900},
    )
    context.route("**/*", guard)
    yield context
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


@dataclass
class Shooter:
    """Numbered full-page screenshots of one test, kept in two places."""

    folder: Path
    prefix: str
    count: int = 0
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page: Page, step: str) -> Path:
        self.count += 1
        name = f"{self.prefix}-{self.count:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower())}.png"
        path = self.folder / name
        page.screenshot(path=str(path), full_page=True)
        shutil.copy2(path, ARTIFACTS / name)
        self.taken.append(path)
        return path


@pytest.fixture
def shoot(request: pytest.FixtureRequest, screenshot_dir: Path) -> Shooter:
    prefix = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    return Shooter(screenshot_dir, prefix)


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: BrowserContext, guard: Guard, shoot: Shooter
) -> Iterator[Page]:
    """A new tab with no cookies; on failure its last state is saved as a screenshot."""
    browser.clear_cookies()
    guard.blocked.clear()
    tab = browser.new_page()
    tab.set_default_timeout(WAIT_SECONDS * 1000)
    yield tab
    if request.node.stash.get(_FAILED, False):
        shoot(tab, "failed")
    tab.close()
    assert not guard.blocked, f"the browser tried to leave the loopback server: {guard.blocked}"


def log_in(page: Page, live: LiveServer, role: str) -> None:
    """Through the token form, as a person would; lands on the role's home page."""
    page.goto(live.url("/login"))
    page.fill("#token", live.secrets[role])
    page.click("#login-submit")
    page.wait_for_selector("#signed-in-as")
    assert page.inner_text("#signed-in-as").endswith(f"({role})")


def log_out(page: Page) -> None:
    page.click("#logout")
    page.wait_for_selector("#nav-login")
