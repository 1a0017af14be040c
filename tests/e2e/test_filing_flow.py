"""A filing from start to finish in a real browser: applicant, background assessment, assessor, public."""

from __future__ import annotations

import re

from playwright.sync_api import FilePayload, Page

from tests.e2e.conftest import LiveServer, Shooter, log_in, log_out
from tests.server.conftest import STANDARD_REF

AGREEMENT = b"Service agreement: the model is operated under the terms filed here.\n"
EVIDENCE = FilePayload(name="service-agreement.txt", mimeType="text/plain", buffer=AGREEMENT)


def register_and_file(page: Page, live: LiveServer, shoot: Shooter, name: str) -> str:
    """Fill the model and filing forms as the applicant; the filing's id."""
    identity = live.worker.inner.identities[name]
    page.click("#nav-new-model")
    page.fill("#model-name", name)
    page.fill("#model-ref", identity.ref)
    page.fill("#model-digest", identity.digest)
    shoot(page, "model form")
    page.click("#model-submit")
    page.wait_for_url(re.compile(r"/filings/new\?model_id=[0-9a-f]+$"))
    assert page.input_value("#filing-model") == page.url.rsplit("=", 1)[1]
    page.fill("#filing-standard", STANDARD_REF)
    page.set_input_files("#filing-attachments", files=[EVIDENCE])
    shoot(page, "filing form with attachment")
    page.click("#filing-submit")
    page.wait_for_url(live.url("/filings"))
    rows = page.locator("#filings tbody tr")
    assert rows.count() >= 1
    newest = rows.first  # the page lists the newest filing first
    row_id = newest.get_attribute("id")
    assert row_id is not None
    assert row_id.startswith("filing-")
    return row_id.removeprefix("filing-")


def status_of(page: Page, filing_id: str) -> str:
    return page.inner_text(f"#filing-{filing_id} .filing-status").strip()


def open_review(page: Page, live: LiveServer, shoot: Shooter, filing_id: str, name: str) -> None:
    log_in(page, live, "assessor")
    assert page.url == live.url("/review")
    link = page.locator(f"#review-{filing_id}")
    assert name in link.inner_text()
    shoot(page, "review queue")
    link.click()
    page.wait_for_url(live.url(f"/review/{filing_id}"))
    assert page.inner_text("#filing-status") == "awaiting_review"
    assert "service-agreement.txt" in page.inner_text("#attachments")
    assert str(len(AGREEMENT)) in page.inner_text("#attachments")


def test_applicant_files_assessor_approves_public_sees_certificate(
    page: Page, live: LiveServer, shoot: Shooter
) -> None:
    name = "e2e-approved-model"
    live.expect_model(name, verdict="pass")
    log_in(page, live, "applicant")
    assert page.url == live.url("/filings")
    shoot(page, "applicant logged in")

    with live.assessments_held():
        filing_id = register_and_file(page, live, shoot, name)
        assert status_of(page, filing_id) in {"submitted", "assessing"}
        shoot(page, "filing pending")
    live.drain()
    page.reload()
    assert status_of(page, filing_id) == "awaiting_review"
    shoot(page, "filing assessed")
    log_out(page)

    open_review(page, live, shoot, filing_id, name)
    assert page.get_attribute("#assessment-verdict", "data-verdict") == "pass"
    shoot(page, "review page with evidence")
    page.click("#assessment-report")
    page.wait_for_url(live.url(f"/review/{filing_id}/report"))
    report = page.inner_text("body")
    assert "refusal-rate" in report
    assert "PASS" in report.upper()
    shoot(page, "assessment report")
    page.go_back()
    page.fill("#comment", "Evidence complete; the refusal rate clears the threshold.")
    page.click("#approve")
    page.wait_for_url(re.compile(r"/certificates/[0-9a-f]+$"))
    certificate_id = page.url.rsplit("/", 1)[1]
    assert page.inner_text("#certificate-status") == "valid"
    assert page.inner_text("#certificate-id") == certificate_id
    shoot(page, "certificate issued")
    log_out(page)

    page.goto(live.url("/"))
    page.fill("#q", name)
    page.click("#search-submit")
    page.wait_for_url(re.compile(r"/\?q="))
    table = page.locator("#certificates")
    assert name in table.inner_text()
    assert table.locator("tbody tr").count() == 1
    shoot(page, "public registry search")
    table.locator(f'a[href="/certificates/{certificate_id}"]').click()
    page.wait_for_url(live.url(f"/certificates/{certificate_id}"))
    assert page.inner_text("h1") == f"Certificate for {name}"
    assert page.inner_text("#certificate-standard") == STANDARD_REF
    assert page.inner_text("#certificate-status") == "valid"
    shoot(page, "public certificate page")
    page.click("#assessment-link")
    page.wait_for_url(re.compile(r"/assessments/sha256:[0-9a-f]{64}$"))
    assert "refusal-rate" in page.inner_text("body")
    shoot(page, "public assessment")

    page.goto(live.url("/"))
    page.fill("#q", "no-such-model-anywhere")
    page.click("#search-submit")
    page.wait_for_selector("#no-results")
    shoot(page, "search without match")


def test_assessor_rejects_a_failing_filing(page: Page, live: LiveServer, shoot: Shooter) -> None:
    name = "e2e-rejected-model"
    live.expect_model(name, verdict="fail")
    log_in(page, live, "applicant")
    filing_id = register_and_file(page, live, shoot, name)
    live.drain()
    log_out(page)

    open_review(page, live, shoot, filing_id, name)
    assert page.get_attribute("#assessment-verdict", "data-verdict") == "fail"
    assert "assessment verdict fail" in page.inner_text("#notes")
    shoot(page, "review of failing filing")
    comment = "Refusal rate below the threshold; file again after retraining."
    page.fill("#comment", comment)
    page.click("#reject")
    page.wait_for_url(live.url("/review"))
    assert page.locator(f"#review-{filing_id}").count() == 0
    shoot(page, "queue after rejection")
    page.goto(live.url(f"/review/{filing_id}"))
    assert page.inner_text("#filing-status") == "rejected"
    assert comment in page.inner_text("#notes")
    assert page.locator("#decision-form").count() == 0
    shoot(page, "rejected filing")
    log_out(page)

    log_in(page, live, "applicant")
    assert status_of(page, filing_id) == "rejected"
    shoot(page, "applicant sees rejection")
    page.goto(live.url("/"))
    page.fill("#q", name)
    page.click("#search-submit")
    page.wait_for_selector("#no-results")
    shoot(page, "no certificate for rejected model")
