"""The JSON API under ``/api/v1``: models, filings, review, certificates, tokens, audit.

Handlers are thin: access is checked by the ``require`` dependency (from the
matrix in ``_auth``), the step itself by ``_workflow``, and registry errors
become 4xx answers in ``_http``. Registry calls are blocking, so plain ``def``
handlers run in the thread pool; the filing upload is ``async`` to read files
and hand the filing to the background processor.

The public certificate lookup and verification are ``async`` and call the
registry inline instead: each is one primary-key read (plus a signature check),
and under load the hand-off to a worker thread cost more CPU than that read and
caused most of the tail latency (``bench/registry_load.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from llmcert.registry import TokenRecord, verify_audit
from llmcert.server import _schemas as s
from llmcert.server import _workflow as wf
from llmcert.server._auth import require
from llmcert.server._http import ApiError, json_error_body
from llmcert.server._state import report_response, server_state, signed_in

Principal = TokenRecord | None
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.ErrorOut} for code in (400, 401, 403, 404, 409, 413, 415, 422, 429)
}
#: The one non-JSON success of the API, declared by hand (see get_filing_report).
_HTML: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}
#: Paging numbers above this are refused (422) instead of overflowing a database integer.
MAX_QUERY_INT = 2**62


def _who(name: str) -> Any:
    return Depends(require(name, "bearer"))


async def read_uploads(files: Sequence[StarletteUpload], max_bytes: int) -> list[wf.Upload]:
    """Read each file up to one byte past the limit: enough to refuse it, never more."""
    uploads = []
    for f in files:
        content = await f.read(max_bytes + 1)
        uploads.append(
            wf.Upload(wf.clean_filename(f.filename), wf.base_media_type(f.content_type), content)
        )
    return uploads


def build_api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", responses=_ERRORS)

    @router.get("/whoami", name="whoami", response_model=s.WhoAmI)
    def whoami(p: Annotated[Principal, _who("whoami")]) -> s.WhoAmI:
        me = signed_in(p)
        return s.WhoAmI(token_id=me.id, name=me.name, role=me.role.value)

    @router.post("/models", name="register_model", status_code=201, response_model=s.ModelOut)
    def register_model(
        request: Request, body: s.ModelIn, p: Annotated[Principal, _who("register_model")]
    ) -> s.ModelOut:
        st = server_state(request)
        model = wf.register_model(
            st.registry,
            signed_in(p),
            name=body.name,
            ref=body.ref,
            identity_digest=body.identity_digest,
            egress=st.egress,
        )
        return s.ModelOut.of(model)

    @router.get("/models/{model_id}", name="get_model", response_model=s.ModelOut)
    def get_model(
        request: Request, model_id: str, p: Annotated[Principal, _who("get_model")]
    ) -> s.ModelOut:
        return s.ModelOut.of(
            wf.visible_model(server_state(request).registry, signed_in(p), model_id)
        )

    @router.post("/filings", name="submit_filing", status_code=202, response_model=s.FilingOut)
    async def submit_filing(
        request: Request,
        p: Annotated[Principal, _who("submit_filing")],
        model_id: Annotated[str, Form(min_length=1, max_length=64)],
        standard_ref: Annotated[str, Form(min_length=1, max_length=200)],
        renews: Annotated[str | None, Form(max_length=64)] = None,
        attachments: Annotated[list[UploadFile] | None, File(description="evidence files")] = None,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=200,
                pattern=r"^[\x21-\x7e]+$",
                description="a retry with the same key returns the first attempt's filing",
            ),
        ] = None,
    ) -> s.FilingOut:
        """File a model for certification (multipart); the assessment starts in the background.

        The filing and all its attachments are stored in one transaction. A retry
        carrying the same ``Idempotency-Key`` returns the filing the first made.
        """
        st = server_state(request)
        uploads = await read_uploads(attachments or [], st.limits.max_attachment_bytes)
        filing, created = await run_in_threadpool(
            lambda: wf.submit_filing(
                st.registry,
                signed_in(p),
                model_id=model_id,
                standard_ref=standard_ref,
                uploads=uploads,
                limits=st.limits,
                standards=st.standards,
                renews=renews,
                submission_key=idempotency_key,
            )
        )
        if created:
            st.processor.schedule(filing.id)
        return s.FilingOut.of(filing)

    @router.get("/filings", name="list_filings", response_model=list[s.FilingOut])
    def list_filings(
        request: Request,
        p: Annotated[Principal, _who("list_filings")],
        status: Annotated[str | None, Query(max_length=32)] = None,
    ) -> list[s.FilingOut]:
        found = wf.filings_for(server_state(request).registry, signed_in(p), status)
        return [s.FilingOut.of(f) for f in found]

    @router.get("/filings/{filing_id}", name="get_filing", response_model=s.FilingDetail)
    def get_filing(
        request: Request, filing_id: str, p: Annotated[Principal, _who("get_filing")]
    ) -> s.FilingDetail:
        registry = server_state(request).registry
        filing = wf.visible_filing(registry, signed_in(p), filing_id)
        certificates = [
            c.id for c in registry.search_certificates(limit=1000) if c.filing_id == filing.id
        ]
        return s.FilingDetail(
            **s.FilingOut.of(filing).model_dump(),
            attachments=[s.AttachmentOut.of(a) for a in registry.list_attachments(filing.id)],
            assessments=[s.AssessmentSummary.of(a) for a in registry.list_assessments(filing.id)],
            certificate_id=certificates[0] if certificates else None,
            notes=wf.review_notes(registry, filing.id),
        )

    @router.get(
        "/filings/{filing_id}/attachments/{attachment_id}",
        name="download_attachment",
        response_class=Response,
    )
    def download_attachment(
        request: Request,
        filing_id: str,
        attachment_id: str,
        p: Annotated[Principal, _who("download_attachment")],
    ) -> Response:
        registry = server_state(request).registry
        wf.visible_filing(registry, signed_in(p), filing_id)
        found = [a for a in registry.list_attachments(filing_id) if a.id == attachment_id]
        content = registry.attachment_content(attachment_id) if found else None
        if content is None:
            raise ApiError(
                404, "not_found", f"no stored attachment {attachment_id!r} on this filing"
            )
        # Served as opaque bytes whatever was declared, so an upload can never run as a page.
        return Response(
            content,
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="{attachment_id}"',
                "X-Checksum-Sha256": found[0].sha256,
            },
        )

    def _assessment(request: Request, filing_id: str, p: Principal) -> tuple[str, Any]:
        registry = server_state(request).registry
        wf.visible_filing(registry, signed_in(p), filing_id)
        record = wf.latest_assessment(registry, filing_id)
        if record is None:
            raise ApiError(404, "not_found", "no assessment has been recorded for this filing yet")
        return filing_id, record

    @router.get(
        "/filings/{filing_id}/assessment",
        name="get_filing_assessment",
        response_model=s.AssessmentOut,
    )
    def get_filing_assessment(
        request: Request, filing_id: str, p: Annotated[Principal, _who("get_filing_assessment")]
    ) -> s.AssessmentOut:
        _, record = _assessment(request, filing_id, p)
        return s.AssessmentOut(
            filing_id=filing_id,
            digest=record.digest,
            verdict=record.verdict,
            assessment=record.body,
            report_url=f"/api/v1/filings/{filing_id}/assessment.html",
        )

    @router.get(
        "/filings/{filing_id}/assessment.html",
        name="get_filing_report",
        # Not response_class=HTMLResponse: that would document every error as text/html,
        # but errors here are JSON like everywhere else. The page is declared below.
        responses={200: {"description": "The assessment report", "content": _HTML}},
    )
    def get_filing_report(
        request: Request, filing_id: str, p: Annotated[Principal, _who("get_filing_report")]
    ) -> HTMLResponse:
        _, record = _assessment(request, filing_id, p)
        return report_response(record.body)

    @router.post(
        "/filings/{filing_id}/approve", name="approve_filing", response_model=s.CertificateOut
    )
    def approve_filing(
        request: Request,
        filing_id: str,
        body: s.Decision,
        p: Annotated[Principal, _who("approve_filing")],
    ) -> s.CertificateOut:
        st = server_state(request)
        cert = wf.approve(st.registry, st.signing, signed_in(p), filing_id, body.comment)
        return s.CertificateOut.of(cert, wf.assessment_digest_of(cert))

    @router.post("/filings/{filing_id}/reject", name="reject_filing", response_model=s.FilingOut)
    def reject_filing(
        request: Request,
        filing_id: str,
        body: s.Decision,
        p: Annotated[Principal, _who("reject_filing")],
    ) -> s.FilingOut:
        filing = wf.reject(server_state(request).registry, signed_in(p), filing_id, body.comment)
        return s.FilingOut.of(filing)

    @router.post(
        "/certificates/{certificate_id}/renew",
        name="renew_certificate",
        status_code=202,
        response_model=s.FilingOut,
    )
    async def renew_certificate(
        request: Request, certificate_id: str, p: Annotated[Principal, _who("renew_certificate")]
    ) -> s.FilingOut:
        """File the certified model again against the same standard, linked to this certificate."""
        st = server_state(request)
        filing = await run_in_threadpool(
            wf.renew, st.registry, signed_in(p), certificate_id, st.standards
        )
        st.processor.schedule(filing.id)
        return s.FilingOut.of(filing)

    @router.post(
        "/certificates/{certificate_id}/status",
        name="set_certificate_status",
        response_model=s.CertificateOut,
    )
    def set_certificate_status(
        request: Request,
        certificate_id: str,
        body: s.StatusChange,
        p: Annotated[Principal, _who("set_certificate_status")],
    ) -> s.CertificateOut:
        cert = wf.set_certificate_status(
            server_state(request).registry, signed_in(p), certificate_id, body.status, body.reason
        )
        return s.CertificateOut.of(cert, wf.assessment_digest_of(cert))

    @router.get("/certificates", name="list_certificates", response_model=list[s.CertificateOut])
    def list_certificates(
        request: Request,
        _p: Annotated[Principal, _who("list_certificates")],
        q: Annotated[str | None, Query(max_length=200)] = None,
        standard: Annotated[str | None, Query(max_length=200)] = None,
        status: Annotated[str | None, Query(max_length=32)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
    ) -> list[s.CertificateOut]:
        found = server_state(request).registry.search_certificates(
            q or None, standard or None, status or None, limit=limit, offset=offset
        )
        return [s.CertificateOut.of(c, wf.assessment_digest_of(c)) for c in found]

    @router.get(
        "/certificates/{certificate_id}", name="get_certificate", response_model=s.CertificateDetail
    )
    async def get_certificate(
        request: Request, certificate_id: str, _p: Annotated[Principal, _who("get_certificate")]
    ) -> s.CertificateDetail:
        view = server_state(request).registry.certificate_view(certificate_id)
        if view is None:
            raise ApiError(404, "not_found", f"no certificate with id {certificate_id!r}")
        cert, _filing, model = view
        return s.CertificateDetail(
            **s.CertificateOut.of(cert, wf.assessment_digest_of(cert)).model_dump(),
            model_name=model.name,
            envelope=cert.envelope,
        )

    @router.post(
        "/verify",
        name="verify_certificate",
        response_model=s.VerifyOut,
        responses={
            422: {"description": "the document is not a genuine certificate of this registry"}
        },
    )
    async def verify_certificate(
        request: Request, body: s.VerifyIn, _p: Annotated[Principal, _who("verify_certificate")]
    ) -> Any:
        """200 with the verdict for a genuine certificate (valid, expired, revoked …); 422 otherwise."""
        st = server_state(request)
        outcome = wf.verify(st.registry, st.signing, body.certificate)
        verdict = verify_out(outcome)
        if outcome.problem is not None:
            code, message = outcome.problem
            return JSONResponse(
                {**json_error_body(code, message), "verdict": verdict.model_dump()}, status_code=422
            )
        return verdict

    @router.get("/issuer", name="issuer_info", response_model=s.IssuerOut)
    def issuer_info(request: Request, _p: Annotated[Principal, _who("issuer_info")]) -> s.IssuerOut:
        """The key certificates are checked with, for offline verification."""
        st = server_state(request)
        return s.IssuerOut(
            name=st.signing.issuer, key_id=st.key_id, public_key_pem=st.public_key_pem
        )

    @router.post("/tokens", name="create_token", status_code=201, response_model=s.TokenCreated)
    def create_token(
        request: Request, body: s.TokenIn, p: Annotated[Principal, _who("create_token")]
    ) -> s.TokenCreated:
        token_id, secret = server_state(request).registry.create_token(
            body.name, body.role, actor=wf.actor_of(signed_in(p))
        )
        return s.TokenCreated(id=token_id, name=body.name, role=body.role, secret=secret)

    @router.get("/tokens", name="list_tokens", response_model=list[s.TokenOut])
    def list_tokens(
        request: Request, _p: Annotated[Principal, _who("list_tokens")]
    ) -> list[s.TokenOut]:
        return [s.TokenOut.of(t) for t in server_state(request).registry.list_tokens()]

    @router.post("/tokens/{token_id}/revoke", name="revoke_token", response_model=s.TokenRevoked)
    def revoke_token(
        request: Request, token_id: str, p: Annotated[Principal, _who("revoke_token")]
    ) -> s.TokenRevoked:
        revoked = server_state(request).registry.revoke_token(
            token_id, actor=wf.actor_of(signed_in(p))
        )
        return s.TokenRevoked(id=token_id, revoked=revoked)

    @router.get("/audit", name="audit_log", response_model=s.AuditOut)
    def audit_log(
        request: Request,
        _p: Annotated[Principal, _who("audit_log")],
        after_seq: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> s.AuditOut:
        registry = server_state(request).registry
        entries = registry.audit_entries(after_seq=after_seq, limit=limit)
        return s.AuditOut(
            chain_ok=verify_audit(registry).ok,
            entries=[
                s.AuditEntryOut(
                    seq=e.seq,
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    subject=e.subject,
                    payload=e.payload,
                    hash=e.hash,
                )
                for e in entries
            ],
        )

    return router


def verify_out(outcome: wf.Verification) -> s.VerifyOut:
    check = outcome.check
    status = check.status.value
    if outcome.problem is not None:
        status = outcome.problem[0].removeprefix("certificate_")
    return s.VerifyOut(
        status=status,
        ok=check.ok and outcome.problem is None,
        details=outcome.problem[1] if outcome.problem else check.details,
        certificate_id=check.certificate_id,
        subject_name=check.subject_name,
        revocation_reason=check.revocation_reason,
        registry_status=outcome.registry_status,
    )
