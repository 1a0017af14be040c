"""Nothing a request carries becomes a path on the server (the pen test's third class)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from llmcert.egress import Egress, EgressPolicy
from llmcert.registry import FilingStatus, Registry
from llmcert.server._services_worker import _evidence, services_worker
from llmcert.server._standards import StandardCatalog
from tests.server.conftest import STANDARD_ID, STANDARD_REF, Server

PATHS = [
    "/etc/passwd",
    "/nonexistent/standard.yaml",
    "../../standard.yaml",
    "standards/evil.yaml",
    "gbt-45654-2025.yaml",
    "gbt-45654-2025@9.9.9",
    "gbt-45654-2025@1.0.0/../x",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("ref", PATHS)
async def test_a_path_or_unregistered_standard_is_refused_alike(server: Server, ref: str) -> None:
    model = await server.register("smollm2")
    before = len(server.registry.audit_entries(limit=10_000))
    response = await server.file(model["id"], standard_ref=ref)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "unknown_standard"
    assert ref not in body["error"]["message"]  # the same answer whether the file exists or not
    assert len(server.registry.audit_entries(limit=10_000)) == before
    assert server.registry.list_filings() == []


async def test_a_filing_names_a_standard_by_id_and_is_stored_with_its_version(
    server: Server,
) -> None:
    model = await server.register("smollm2")
    response = await server.file(model["id"], standard_ref=STANDARD_ID)
    assert response.status_code == 202, response.text
    assert response.json()["standard_ref"] == STANDARD_REF


def test_the_catalogue_lists_the_package_standards_and_the_operators() -> None:
    catalog = StandardCatalog.builtin()
    assert STANDARD_REF in catalog.refs
    assert catalog.resolve(STANDARD_ID) == STANDARD_REF
    assert catalog.resolve("/etc/passwd") is None
    path = catalog.path(STANDARD_REF)
    assert path is not None
    assert path.is_file()


async def test_a_stored_path_is_never_loaded_by_the_worker(
    registry: Registry, tmp_path: Path
) -> None:
    """A row written before this check existed (or by hand) still cannot name a server file."""
    model = registry.register_model(
        name="m",
        ref="openai://127.0.0.1:9/v1?model=m",
        identity_digest="sha256:" + "0" * 64,
        owner="app-1",
        actor="test",
    )
    filing = registry.submit_filing(model.id, "/etc/passwd", applicant="app-1", actor="test")
    egress = Egress(policy=EgressPolicy.allowing(["127.0.0.0/8"]))
    worker = services_worker(registry, tmp_path / "out", egress=egress)
    try:
        with pytest.raises(Exception, match="not a registered standard"):
            await worker.run(filing)
    finally:
        await worker.aclose()
    assert not (tmp_path / "out").exists()


def test_evidence_is_only_the_filings_own_and_private(registry: Registry, tmp_path: Path) -> None:
    model = registry.register_model(
        name="m",
        ref="openai://api.example.com/v1?model=m",
        identity_digest="sha256:" + "0" * 64,
        owner="app-1",
        actor="test",
    )
    mine = registry.submit_filing(model.id, STANDARD_REF, applicant="app-1", actor="test")
    other = registry.submit_filing(model.id, STANDARD_REF, applicant="app-1", actor="test")
    registry.add_attachment(
        mine.id, "agreement.txt", media_type="text/plain", content=b"mine", actor="t"
    )
    registry.add_attachment(
        other.id, "rules.txt", media_type="text/plain", content=b"theirs", actor="t"
    )
    folder = tmp_path / mine.id / "evidence"
    folder.mkdir(parents=True)
    (folder / "stale.txt").write_bytes(b"left over")
    found = _evidence(registry, registry.get_filing(mine.id), folder)
    assert set(found) == {"agreement"}
    assert sorted(p.name for p in folder.iterdir()) == ["agreement.txt"]
    assert stat.S_IMODE(found["agreement"].stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert registry.get_filing(other.id).status is FilingStatus.SUBMITTED
