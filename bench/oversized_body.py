"""An anonymous 40 MiB JSON body to POST /api/v1/verify, and what it does to other requests.

Serves the registry with uvicorn on loopback in a child process, then sends a
body of twenty million small JSON numbers (cheap to send, costly to parse)
while a thread polls ``GET /api/v1/issuer`` every 20 ms. Prints how long the big
request took to be answered, its status, and the slowest poll meanwhile. Run it
with any version of the sources on ``PYTHONPATH`` to compare:

    PYTHONPATH=src python bench/oversized_body.py
"""

from __future__ import annotations

import multiprocessing
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from llmcert.registry import open_registry
from llmcert.server import Limits, QueueWorker, SigningConfig, create_app

SIZE = 40 << 20


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keypair(folder: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / "issuer.pem", folder / "issuer.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _serve(port: int, folder: Path) -> None:
    registry = open_registry(f"sqlite:///{folder / 'r.sqlite'}")
    private, public = _keypair(folder)
    app = create_app(
        registry,
        worker=QueueWorker(lambda _f: None),  # type: ignore[arg-type, return-value]
        signing=SigningConfig(private, public),
        limits=Limits(),
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error")


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    port = _port()
    child = multiprocessing.Process(target=_serve, args=(port, folder), daemon=True)
    child.start()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, trust_env=False) as client:
        for _ in range(200):
            try:
                client.get("/api/v1/issuer")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
    body = b'{"certificate": {"payload": [' + b"0," * (SIZE // 2 - 20) + b"0]}}"
    slowest = 0.0
    done = threading.Event()

    def poll() -> None:
        nonlocal slowest
        with httpx.Client(base_url=base, trust_env=False, timeout=60) as client:
            while not done.is_set():
                start = time.perf_counter()
                client.get("/api/v1/issuer")
                slowest = max(slowest, time.perf_counter() - start)
                time.sleep(0.02)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    with httpx.Client(base_url=base, trust_env=False, timeout=120) as client:
        start = time.perf_counter()
        try:
            response = client.post(
                "/api/v1/verify", content=body, headers={"Content-Type": "application/json"}
            )
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        took = time.perf_counter() - start
    time.sleep(0.3)
    done.set()
    poller.join()
    child.terminate()
    print(f"40 MiB POST /api/v1/verify: {status} after {took:.3f} s; slowest poll {slowest:.3f} s")


if __name__ == "__main__":
    main()
