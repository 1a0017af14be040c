"""What every route reads from ``app.state``: one typed bundle instead of loose attributes."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from llmcert.egress import Egress
from llmcert.registry import Registry, TokenRecord
from llmcert.server._config import Limits, SigningConfig
from llmcert.server._standards import StandardCatalog
from llmcert.server._worker import FilingProcessor

_META_CSP = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')


@dataclass(frozen=True)
class ServerState:
    registry: Registry
    signing: SigningConfig
    limits: Limits
    processor: FilingProcessor
    key_id: str
    public_key_pem: str
    #: What applicants' model references may do (schemes, addresses, credentials).
    egress: Egress
    #: The standards filings may name.
    standards: StandardCatalog


def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.server
    return state


def signed_in(principal: TokenRecord | None) -> TokenRecord:
    """The principal of a route whose access rule excludes anonymous callers."""
    if principal is None:  # pragma: no cover - the access dependency already refused
        raise RuntimeError("route reached without a principal")
    return principal


def report_response(body: dict[str, Any]) -> HTMLResponse:
    """The assessment page, served with the same CSP its own meta tag declares."""
    from llmcert.report import Assessment, render_assessment_html

    page = render_assessment_html(Assessment.model_validate(body))
    match = _META_CSP.search(page)
    policy = html.unescape(match.group(1)) if match else "default-src 'none'"
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})
