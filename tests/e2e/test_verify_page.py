"""The public verifier in a real browser: a downloaded certificate, a forged copy, a revoked one."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.e2e.conftest import LiveServer, Shooter


def verdict(page: Page) -> str:
    status = page.get_attribute("#verdict", "data-status")
    assert status is not None
    return status


def verify_file(page: Page, live: LiveServer, path: Path) -> str:
    page.goto(live.url("/verify"))
    page.set_input_files("#file", str(path))
    page.click("#verify-submit")
    page.wait_for_selector("#verdict")
    return verdict(page)


def verify_pasted(page: Page, live: LiveServer, text: str) -> str:
    page.goto(live.url("/verify"))
    page.fill("#certificate", text)
    page.click("#verify-submit")
    page.wait_for_selector("#verdict")
    return verdict(page)


def forged(envelope: dict[str, Any]) -> dict[str, Any]:
    """The same signature over a statement whose certificate now lasts until 2099."""
    statement = json.loads(base64.b64decode(envelope["payload"]))
    expires = statement["predicate"]["expires_at"]
    statement["predicate"]["expires_at"] = "2099" + expires[4:]
    assert statement["predicate"]["expires_at"] != expires
    payload = base64.b64encode(json.dumps(statement).encode("utf-8")).decode("ascii")
    return dict(envelope, payload=payload)


def download_certificate(page: Page, live: LiveServer, certificate_id: str, into: Path) -> Path:
    page.goto(live.url(f"/certificates/{certificate_id}"))
    with page.expect_download() as info:
        page.click("#download")
    target = into / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_verify_page_tells_valid_tampered_and_revoked(
    page: Page, live: LiveServer, shoot: Shooter, tmp_path: Path
) -> None:
    issued = live.certify("e2e-verified-model")
    certificate_id = issued["id"]
    downloaded = download_certificate(page, live, certificate_id, tmp_path)
    shoot(page, "certificate page")
    assert downloaded.name == f"certificate-{certificate_id}.json"
    envelope = json.loads(downloaded.read_text(encoding="utf-8"))
    served = live.api("GET", f"/api/v1/certificates/{certificate_id}").json()["envelope"]
    assert envelope == served

    assert verify_file(page, live, downloaded) == "valid"
    assert page.get_attribute("#verdict", "class") == "verdict-ok"
    assert "e2e-verified-model" in page.inner_text("#result")
    assert page.inner_text("#registry-status") == "valid"
    shoot(page, "uploaded certificate valid")
    assert verify_pasted(page, live, downloaded.read_text(encoding="utf-8")) == "valid"
    shoot(page, "pasted certificate valid")

    assert verify_pasted(page, live, json.dumps(forged(envelope))) == "tampered"
    assert page.get_attribute("#verdict", "class") == "verdict-bad"
    shoot(page, "tampered certificate")
    tampered_file = tmp_path / "tampered.json"
    tampered_file.write_text(json.dumps(forged(envelope)), encoding="utf-8")
    assert verify_file(page, live, tampered_file) == "tampered"
    assert verify_pasted(page, live, "{this is not a certificate") == "not_json"
    shoot(page, "not json")

    revoked = live.api(
        "POST",
        f"/api/v1/certificates/{certificate_id}/status",
        "admin",
        json={"status": "revoked", "reason": "model weights replaced after certification"},
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert verify_file(page, live, downloaded) == "revoked"
    assert page.get_attribute("#verdict", "class") == "verdict-bad"
    assert page.inner_text("#registry-status") == "revoked"
    shoot(page, "revoked certificate")
    page.goto(live.url(f"/certificates/{certificate_id}"))
    assert page.inner_text("#certificate-status") == "revoked"
    assert "weights replaced" in page.inner_text("#certificate-reason")
    shoot(page, "certificate page after revocation")
