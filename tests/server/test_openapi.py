"""The OpenAPI document: well-formed, typed, and covering every JSON endpoint (and no page)."""

from __future__ import annotations

from llmcert.server import routes_of
from tests.server.conftest import Server


async def test_openapi_spec_structure(server: Server) -> None:
    response = await server.client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "llmcert registry"
    paths = spec["paths"]
    api_routes = [r for r in routes_of(server.app) if r.path.startswith("/api/")]
    documented = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    assert documented == {(r.method, r.path) for r in api_routes}
    operation_ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for path, ops in paths.items():
        for method, op in ops.items():
            assert op["responses"], (method, path)
            for code, answer in op["responses"].items():
                assert code.isdigit() or code == "default"
                assert "description" in answer
    schemas = spec["components"]["schemas"]
    for name in ("ModelIn", "FilingOut", "CertificateDetail", "VerifyIn", "VerifyOut", "ErrorOut"):
        assert name in schemas, name
    refs: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    refs.append(value)
                else:
                    collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(spec)
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref
    submit = paths["/api/v1/filings"]["post"]
    assert "multipart/form-data" in submit["requestBody"]["content"]
    approve = paths["/api/v1/filings/{filing_id}/approve"]["post"]
    assert approve["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/Decision"
    )
    assert "409" in approve["responses"]
    assert not any(path.startswith("/review") or path == "/" for path in paths)


async def test_interactive_docs_are_off(server: Server) -> None:
    assert (await server.client.get("/docs")).status_code == 404
