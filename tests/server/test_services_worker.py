"""The production worker acts only on model references the operator allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmcert.egress import OutboundRefused
from llmcert.registry import Registry
from llmcert.server._services_worker import DEFAULT_SCHEMES, checked_ref, services_worker
from tests.server.conftest import STANDARD_REF


@pytest.mark.parametrize(
    "ref", ["llamacpp:/etc/passwd", "embedded", "embedded:gemma3-270m", "mock:echo"]
)
def test_references_to_this_servers_own_files_and_models_are_refused(ref: str) -> None:
    with pytest.raises(OutboundRefused, match="does not assess"):
        checked_ref(ref, DEFAULT_SCHEMES)


def test_endpoints_are_allowed_and_the_operator_can_widen_the_list() -> None:
    endpoint = "openai://api.example.com:9/v1?model=m"
    assert checked_ref(endpoint, DEFAULT_SCHEMES) == endpoint
    assert checked_ref("embedded", frozenset({"embedded"})) == "embedded"


async def test_the_worker_refuses_before_touching_the_model(
    registry: Registry, tmp_path: Path
) -> None:
    model = registry.register_model(
        name="local",
        ref="llamacpp:/etc/passwd",
        identity_digest="sha256:" + "0" * 64,
        owner="applicant-1",
        actor="test",
    )
    filing = registry.submit_filing(model.id, STANDARD_REF, applicant="applicant-1", actor="test")
    worker = services_worker(registry, tmp_path / "out")
    try:
        with pytest.raises(OutboundRefused, match="does not assess llamacpp"):
            await worker.run(filing)
    finally:
        await worker.aclose()
    assert not (tmp_path / "out").exists()
