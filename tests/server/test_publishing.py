"""The server keeps its signed audit anchor and revocation list current in the operator's files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from llmcert.certificates import open_anchor, open_revocations
from llmcert.registry import Registry
from llmcert.server import Limits, Publishing, SigningConfig, create_app
from llmcert.server._app import Publisher
from tests.registry._helpers import certify, new_filing
from tests.server.conftest import FakeWorker


async def test_the_server_publishes_at_start_and_when_the_log_moves(
    registry: Registry, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    anchor, listed = tmp_path / "pub" / "anchor.json", tmp_path / "pub" / "revoked.json"
    anchor.parent.mkdir()
    signing = SigningConfig(keys[0], keys[1], issuer="Test Registry")
    cert = certify(registry, new_filing(registry), certificate_id="d" * 32)
    app = create_app(
        registry,
        worker=FakeWorker(registry),
        signing=signing,
        limits=Limits(),
        publishing=Publishing(anchor, listed, interval=3600),
    )
    async with app.router.lifespan_context(app):
        for _ in range(200):
            if anchor.exists() and listed.exists():
                break
            await asyncio.sleep(0.02)
    head = registry.audit_head()
    pinned = open_anchor(json.loads(anchor.read_text()), keys[1])
    assert (pinned.seq, pinned.hash) == head
    assert open_revocations(json.loads(listed.read_text()), keys[1]).entries == {}

    publisher = Publisher(registry, signing, Publishing(anchor, listed))
    assert publisher.publish_if_moved()
    assert not publisher.publish_if_moved()  # nothing new: nothing rewritten
    registry.set_certificate_status(cert.id, "revoked", reason="key leaked", actor="admin:x")
    assert publisher.publish_if_moved()
    assert open_revocations(json.loads(listed.read_text()), keys[1]).reason(cert.id) == (
        "revoked: key leaked"
    )
    assert open_anchor(json.loads(anchor.read_text()), keys[1]).seq == head[0] + 1
