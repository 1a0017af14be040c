"""The app behind a real uvicorn on a loopback port, with a real HTTP request."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx
import uvicorn

from llmcert.registry import Registry
from llmcert.server import Limits, QueueWorker, SigningConfig, WorkerResult, create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_uvicorn_serves_the_app_on_loopback(registry: Registry, keys: tuple[Path, Path]) -> None:
    def never(_filing: object) -> WorkerResult:
        raise AssertionError("no filing is made here")

    app = create_app(
        registry,
        worker=QueueWorker(never),
        signing=SigningConfig(keys[0], keys[1]),
        limits=Limits(),
    )
    _, secret = registry.create_token("live", "admin", actor="test")
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(200):
                if server.started:
                    break
                threading.Event().wait(0.05)
            assert server.started
            me = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
            assert me.status_code == 200
            assert me.json()["name"] == "live"
            home = client.get("/")
            assert home.status_code == 200
            assert "content-security-policy" in home.headers
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()
