"""Server-rendered pages: the public registry and verifier, and the forms behind a token login.

Jinja2 autoescapes everything, and the pages load nothing but our own
stylesheet and run no script, under a CSP that forbids anything else, so
filing fields typed by an applicant can only ever show up as text. Forms work
without JavaScript; every POST carries a CSRF token (see ``_auth``).
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from llmcert._safetext import first_unsafe
from llmcert.registry import FilingStatus, Role, TokenRecord
from llmcert.server import _workflow as wf
from llmcert.server._api import read_uploads, verify_out
from llmcert.server._auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    authenticate,
    check_csrf,
    csrf_token,
    new_csrf_cookie,
    require,
)
from llmcert.server._http import ApiError
from llmcert.server._state import report_response, server_state, signed_in

Principal = TokenRecord | None
_HOME = {Role.APPLICANT: "/filings", Role.ASSESSOR: "/review", Role.ADMIN: "/filings"}


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("llmcert.server", "templates"),
        autoescape=True,
        auto_reload=False,  # templates ship with the package: no stat() per page
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@functools.lru_cache(maxsize=1)
def _stylesheet() -> bytes:
    return (files("llmcert.server") / "static" / "app.css").read_bytes()


def render(
    request: Request, template: str, *, me: Principal = None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page, with the browser's CSRF cookie set if it has none yet."""
    cookie = request.cookies.get(CSRF_COOKIE)
    fresh = cookie is None
    value = cookie or new_csrf_cookie()
    text = (
        _environment()
        .get_template(template)
        .render(me=me, csrf=csrf_token(request.app.state.csrf_key, value), **context)
    )
    response = HTMLResponse(text, status_code=status_code)
    if fresh:
        _set_cookie(request, response, CSRF_COOKIE, value)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def html_error(request: Request, status: int, code: str, message: str) -> Response:
    return render(request, "error.html", status_code=status, code=code, message=message)


async def _form(request: Request) -> FormData:
    st = server_state(request)
    form = await request.form(max_files=st.limits.max_attachments + 1, max_fields=50)
    check_csrf(request, form.get(CSRF_FIELD))
    return form


def _text(form: FormData, name: str, *, required: bool = True) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise ApiError(422, "invalid_request", f"{name.replace('_', ' ')} is required")
    if first_unsafe(text, free_text=True) is not None:
        raise ApiError(
            400, "invalid_characters", f"{name.replace('_', ' ')} holds a control character"
        )
    return text


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _who(name: str) -> Any:
    return Depends(require(name, "cookie"))


def build_page_router() -> APIRouter:
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @router.get("/", name="page_index")
    def page_index(
        request: Request,
        me: Annotated[Principal, _who("page_index")],
        q: Annotated[str, Query(max_length=200)] = "",
        standard: Annotated[str, Query(max_length=200)] = "",
        status: Annotated[str, Query(max_length=32)] = "",
    ) -> HTMLResponse:
        registry = server_state(request).registry
        found = registry.search_certificates(q or None, standard or None, status or None, limit=200)
        pairs = [
            (cert, registry.get_model(registry.get_filing(cert.filing_id).model_id))
            for cert in found
        ]
        names = registry.token_names({model.owner for _, model in pairs})
        rows = [  # owners are recorded by principal id and shown by name
            {"cert": cert, "model": model, "owner": names.get(model.owner, model.owner)}
            for cert, model in pairs
        ]
        return render(
            request,
            "index.html",
            me=me,
            rows=rows,
            q=q,
            standard=standard,
            status=status,
            statuses=["valid", "suspended", "revoked", "expired"],
        )

    @router.get("/certificates/{certificate_id}", name="page_certificate")
    async def page_certificate(  # inline, like the API lookup: see ``_api``
        request: Request, certificate_id: str, me: Annotated[Principal, _who("page_certificate")]
    ) -> HTMLResponse:
        view = server_state(request).registry.certificate_view(certificate_id)
        if view is None:
            raise ApiError(404, "not_found", f"no certificate with id {certificate_id!r}")
        cert, filing, model = view
        predicate = wf.signed_payload(cert.envelope).get("predicate", {})
        registry = server_state(request).registry
        owner = registry.token_names([model.owner]).get(model.owner, model.owner)
        return render(
            request,
            "certificate.html",
            me=me,
            cert=cert,
            filing=filing,
            model=model,
            owner=owner,
            predicate=predicate,
            assessment_digest=wf.assessment_digest_of(cert),
        )

    @router.get("/certificates/{certificate_id}/certificate.json", name="page_certificate_download")
    def page_certificate_download(
        request: Request,
        certificate_id: str,
        _me: Annotated[Principal, _who("page_certificate_download")],
    ) -> Response:
        cert = server_state(request).registry.find_certificate(certificate_id)
        if cert is None:
            raise ApiError(404, "not_found", f"no certificate with id {certificate_id!r}")
        return Response(
            json.dumps(cert.envelope, indent=2, sort_keys=True) + "\n",
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="certificate-{cert.id}.json"'},
        )

    @router.get("/verify", name="page_verify_form")
    def page_verify_form(
        request: Request, me: Annotated[Principal, _who("page_verify_form")]
    ) -> HTMLResponse:
        return render(request, "verify.html", me=me, result=None, problem=None)

    @router.post("/verify", name="page_verify")
    async def page_verify(
        request: Request, me: Annotated[Principal, _who("page_verify")]
    ) -> HTMLResponse:
        st = server_state(request)
        form = await request.form(max_files=1, max_fields=5)
        upload, pasted = form.get("file"), form.get("certificate")
        raw = b""
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(st.limits.max_certificate_bytes + 1)
        elif isinstance(pasted, str):
            raw = pasted.encode("utf-8")
        if len(raw) > st.limits.max_certificate_bytes:
            raise ApiError(413, "too_large", "that is far too large to be a certificate")
        if not raw.strip():
            raise ApiError(422, "invalid_request", "paste a certificate or choose its file")
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            return render(
                request,
                "verify.html",
                me=me,
                status_code=422,
                result=None,
                problem="That is not a certificate: it is not JSON.",
            )
        outcome = await run_in_threadpool(wf.verify, st.registry, st.signing, document)
        return render(request, "verify.html", me=me, result=verify_out(outcome), problem=None)

    @router.get("/assessments/{digest}", name="page_assessment")
    def page_assessment(
        request: Request, digest: str, _me: Annotated[Principal, _who("page_assessment")]
    ) -> Response:
        record = wf.public_assessment(server_state(request).registry, digest)
        if record is None:
            raise ApiError(404, "not_found", "no certified assessment has that digest")
        return report_response(record.body)

    @router.get("/static/app.css", name="page_stylesheet")
    def page_stylesheet(_me: Annotated[Principal, _who("page_stylesheet")]) -> Response:
        return Response(_stylesheet(), media_type="text/css")

    @router.get("/login", name="page_login_form")
    def page_login_form(
        request: Request, me: Annotated[Principal, _who("page_login_form")]
    ) -> HTMLResponse:
        return render(request, "login.html", me=me, error=None)

    @router.post("/login", name="page_login")
    async def page_login(
        request: Request, _me: Annotated[Principal, _who("page_login")]
    ) -> Response:
        form = await _form(request)
        secret = _text(form, "token")
        principal = await authenticate(server_state(request).registry, secret)
        if principal is None:
            return render(request, "login.html", status_code=401, error="That token is not valid.")
        response = _see_other(_HOME[principal.role])
        session_id = request.app.state.sessions.open(principal.id)
        _set_cookie(request, response, SESSION_COOKIE, session_id)
        return response

    @router.post("/logout", name="page_logout")
    async def page_logout(
        request: Request, _me: Annotated[Principal, _who("page_logout")]
    ) -> Response:
        await _form(request)
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            request.app.state.sessions.close(session_id)  # ended here, not just forgotten
        response = _see_other("/")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/filings", name="page_filings")
    def page_filings(
        request: Request, me: Annotated[Principal, _who("page_filings")]
    ) -> HTMLResponse:
        registry = server_state(request).registry
        filings = wf.filings_for(registry, signed_in(me))
        return render(request, "filings.html", me=me, filings=list(reversed(filings)))

    @router.get("/models/new", name="page_model_new")
    def page_model_new(
        request: Request, me: Annotated[Principal, _who("page_model_new")]
    ) -> HTMLResponse:
        return render(request, "model_new.html", me=me)

    @router.post("/models", name="page_model_create")
    async def page_model_create(
        request: Request, me: Annotated[Principal, _who("page_model_create")]
    ) -> Response:
        form = await _form(request)
        st = server_state(request)
        model = await run_in_threadpool(
            lambda: wf.register_model(
                st.registry,
                signed_in(me),
                name=_text(form, "name"),
                ref=_text(form, "ref"),
                identity_digest=_text(form, "identity_digest"),
                egress=st.egress,
            )
        )
        return _see_other(f"/filings/new?model_id={model.id}")

    @router.get("/filings/new", name="page_filing_new")
    def page_filing_new(
        request: Request,
        me: Annotated[Principal, _who("page_filing_new")],
        model_id: Annotated[str, Query(max_length=64)] = "",
        renews: Annotated[str, Query(max_length=64)] = "",
    ) -> HTMLResponse:
        limits = server_state(request).limits
        return render(
            request,
            "filing_new.html",
            me=me,
            model_id=model_id,
            renews=renews,
            media_types=sorted(limits.allowed_media_types),
            max_bytes=limits.max_attachment_bytes,
        )

    @router.post("/filings", name="page_filing_create")
    async def page_filing_create(
        request: Request, me: Annotated[Principal, _who("page_filing_create")]
    ) -> Response:
        st = server_state(request)
        form = await _form(request)
        files = [f for f in form.getlist("attachments") if isinstance(f, UploadFile) and f.filename]
        uploads = await read_uploads(files, st.limits.max_attachment_bytes)
        filing, created = await run_in_threadpool(
            lambda: wf.submit_filing(
                st.registry,
                signed_in(me),
                model_id=_text(form, "model_id"),
                standard_ref=_text(form, "standard_ref"),
                uploads=uploads,
                limits=st.limits,
                standards=st.standards,
                renews=_text(form, "renews", required=False) or None,
            )
        )
        if created:
            st.processor.schedule(filing.id)
        return _see_other("/filings")

    @router.get("/review", name="page_review_list")
    def page_review_list(
        request: Request, me: Annotated[Principal, _who("page_review_list")]
    ) -> HTMLResponse:
        registry = server_state(request).registry
        waiting = registry.list_filings(status=FilingStatus.AWAITING_REVIEW)
        rows = [{"filing": f, "model": registry.get_model(f.model_id)} for f in waiting]
        return render(request, "review_list.html", me=me, rows=rows)

    @router.get("/review/{filing_id}", name="page_review")
    def page_review(
        request: Request, filing_id: str, me: Annotated[Principal, _who("page_review")]
    ) -> HTMLResponse:
        registry = server_state(request).registry
        filing = registry.get_filing(filing_id)
        return render(
            request,
            "review.html",
            me=me,
            filing=filing,
            model=registry.get_model(filing.model_id),
            attachments=registry.list_attachments(filing_id),
            assessment=wf.latest_assessment(registry, filing_id),
            notes=wf.review_notes(registry, filing_id),
            open=filing.status is FilingStatus.AWAITING_REVIEW,
        )

    @router.get("/review/{filing_id}/report", name="page_review_report")
    def page_review_report(
        request: Request, filing_id: str, _me: Annotated[Principal, _who("page_review_report")]
    ) -> Response:
        record = wf.latest_assessment(server_state(request).registry, filing_id)
        if record is None:
            raise ApiError(404, "not_found", "no assessment has been recorded for this filing yet")
        return report_response(record.body)

    @router.post("/review/{filing_id}", name="page_review_decide")
    async def page_review_decide(
        request: Request, filing_id: str, me: Annotated[Principal, _who("page_review_decide")]
    ) -> Response:
        st = server_state(request)
        form = await _form(request)
        decision, comment = _text(form, "decision"), _text(form, "comment")
        if decision == "approve":
            cert = await run_in_threadpool(
                wf.approve, st.registry, st.signing, signed_in(me), filing_id, comment
            )
            return _see_other(f"/certificates/{cert.id}")
        if decision == "reject":
            await run_in_threadpool(wf.reject, st.registry, signed_in(me), filing_id, comment)
            return _see_other("/review")
        raise ApiError(422, "invalid_request", "decision must be approve or reject")

    return router
