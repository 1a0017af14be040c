"""``llmcert serve``: run the registry's API and web pages; ``serve token create`` bootstraps access.

FastAPI, uvicorn and the registry load inside the commands, so ``llmcert
--help`` stays fast. Secrets never come from the command line: the signing key's
passphrase is read from ``LLMCERT_KEY_PASSPHRASE`` by the key loader, and a new
token's secret is printed once, to stdout, and kept only as a hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmcert.cli._errors import handle_errors

serve_app = typer.Typer(
    name="serve",
    help="Run the certification registry (REST API + web pages) with uvicorn.",
    invoke_without_command=True,
)
token_app = typer.Typer(name="token", help="Manage API tokens directly in the registry.")
serve_app.add_typer(token_app, name="token")

RegistryOption = Annotated[
    str | None,
    typer.Option(
        "--registry",
        help="database URL (sqlite:///… or postgresql://…); default $LLMCERT_DATABASE_URL, "
        "else the local SQLite registry",
        show_default=False,
    ),
]


@serve_app.callback()
@handle_errors
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=0, max=65535)] = 8000,
    registry: RegistryOption = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            envvar="LLMCERT_SIGNING_KEY",
            help="issuer's ECDSA private key (PEM); passphrase from $LLMCERT_KEY_PASSPHRASE",
            show_default=False,
        ),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            envvar="LLMCERT_SIGNING_PUBLIC_KEY",
            help="the matching public key (default: KEY with .pub.pem)",
            show_default=False,
        ),
    ] = None,
    issuer: Annotated[str | None, typer.Option(help="issuer name on certificates")] = None,
    validity_days: Annotated[int, typer.Option(help="certificate validity", min=1)] = 365,
    output: Annotated[Path, typer.Option(help="where assessments of filings are written")] = Path(
        "llmcert-server"
    ),
    concurrency: Annotated[int, typer.Option(help="assessments run at once", min=1)] = 1,
    allow_scheme: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-scheme",
            help="model reference schemes filings may use (default: openai); llamacpp or "
            "embedded let applicants name files and models on this server",
            show_default=False,
        ),
    ] = None,
    egress_allow: Annotated[
        list[str] | None,
        typer.Option(
            "--egress-allow",
            help="a network (CIDR) applicants' endpoints may be in although it is not public, "
            "e.g. 10.1.2.0/24; by default loopback, private and link-local are refused",
            show_default=False,
        ),
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(
            "--credentials",
            help="YAML mapping endpoint origins to the API key each gets "
            "({env: NAME} or {file: PATH}); other origins get none",
            show_default=False,
        ),
    ] = None,
    standard: Annotated[
        list[Path] | None,
        typer.Option(
            "--standard",
            help="a standard file filings may name by id@version, besides the built-in ones",
            show_default=False,
        ),
    ] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            help="keep the signed audit-log head here (somewhere the database's users "
            "cannot rewrite); check it with: llmcert audit verify --anchor FILE",
            show_default=False,
        ),
    ] = None,
    revocations: Annotated[
        Path | None,
        typer.Option(
            "--revocations",
            help="keep the signed revocation list here, for: llmcert cert verify --revocations",
            show_default=False,
        ),
    ] = None,
    publish_every: Annotated[
        float, typer.Option(help="seconds between checks for a new audit head to publish", min=1)
    ] = 60.0,
) -> None:
    """Serve the registry: JSON API under /api/v1, spec at /openapi.json, pages at /."""
    if ctx.invoked_subcommand is not None:
        return
    import os

    import uvicorn

    from llmcert.egress import DEFAULT_SCHEMES, CredentialMap, Egress, EgressPolicy
    from llmcert.registry import open_registry
    from llmcert.server import Limits, Publishing, SigningConfig, create_app
    from llmcert.server._services_worker import services_worker
    from llmcert.server._standards import StandardCatalog

    signing = SigningConfig.from_env(
        key, public_key=public_key, issuer=issuer, validity_days=validity_days
    )
    try:
        policy = EgressPolicy.allowing(egress_allow or ())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--egress-allow") from None
    egress = Egress(
        policy=policy,
        credentials=CredentialMap.load(credentials, os.environ) if credentials else CredentialMap(),
        allowed_schemes=frozenset(allow_scheme) if allow_scheme else DEFAULT_SCHEMES,
    )
    standards = StandardCatalog.builtin(standard or ())
    store = open_registry(registry)
    try:
        app = create_app(
            store,
            worker=services_worker(
                store, output, concurrency=concurrency, egress=egress, standards=standards
            ),
            signing=signing,
            limits=Limits(),
            egress=egress,
            standards=standards,
            publishing=Publishing(anchor, revocations, publish_every),
        )
        if host not in ("127.0.0.1", "::1", "localhost"):
            typer.echo(
                f"warning: listening on {host}; put TLS in front (the session cookie needs it)",
                err=True,
            )
        # h11 named: uvicorn would switch to httptools (installed for `llmcert perf`) by itself.
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, http="h11")
    finally:
        store.close()


@token_app.command("create")
@handle_errors
def token_create_command(
    name: Annotated[str, typer.Option("--name", help="who the token is for")],
    role: Annotated[str, typer.Option("--role", help="applicant, assessor or admin")] = "admin",
    registry: RegistryOption = None,
) -> None:
    """Create a token and print its secret once (bootstrap the first admin with this)."""
    from llmcert.registry import open_registry

    store = open_registry(registry)
    try:
        token_id, secret = store.create_token(name, role, actor="cli:serve-token-create")
    finally:
        store.close()
    typer.echo(
        f"token {token_id} ({role}) created for {name}; the secret is shown only once:", err=True
    )
    typer.echo(secret)
