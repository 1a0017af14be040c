"""``llmcert certify`` and ``llmcert cert verify``: issue a certificate, check one offline.

The issuer's private key is a file named by ``--key`` or ``$LLMCERT_SIGNING_KEY``;
an encrypted key's passphrase comes only from ``$LLMCERT_KEY_PASSPHRASE``. With
neither key option, ``certify`` makes an issuer key pair under the output
directory once (``issuer-key.pem``, mode 0600; ``issuer-key.pub.pem`` for
verifiers) and says so. Keys and passphrases are never printed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from llmcert._safetext import printable
from llmcert.cli._assess import (
    AssessJudgeOption,
    ConcurrencyOption,
    DataOption,
    EvidenceOption,
    JunitOption,
    LimitOption,
    ModelOption,
    NotApplicableOption,
    ProgressOption,
    RefusalCalibrationOption,
    SeedOption,
    StandardOption,
)
from llmcert.cli._errors import EXIT_ERROR

if TYPE_CHECKING:
    from datetime import datetime

    from llmcert.certificates import CertificateCheck
    from llmcert.services.certify import CertifyOutcome

KEY_ENV = "LLMCERT_SIGNING_KEY"
REGISTRY_ENV = "LLMCERT_DATABASE_URL"
#: ``certify``: 0 issued, 1 not issued (FAIL or refused), 2 inconclusive, 3 error.
EXIT_CODES = {"issued": 0, "failed": 1, "refused": 1, "inconclusive": 2}
EXIT_NOT_VALID = 1

#: How each verification status is announced; every one reads differently.
STATUS_LABELS = {
    "valid": "VALID",
    "tampered": "TAMPERED",
    "wrong_key": "WRONG KEY",
    "expired": "EXPIRED",
    "not_yet_valid": "NOT YET VALID",
    "revoked": "REVOKED",
    "wrong_model": "WRONG MODEL",
}


def certify_command(
    model: ModelOption = "embedded",
    standard: StandardOption = "gbt-45654-2025",
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help=f"Issuer private key (PEM); default ${KEY_ENV}, else a key pair made under "
            "--output. Passphrase only from $LLMCERT_KEY_PASSPHRASE.",
        ),
    ] = None,
    issuer: Annotated[
        str, typer.Option("--issuer", help="Issuer name signed into the certificate.")
    ] = "self-assessment",
    validity_days: Annotated[
        int, typer.Option("--validity-days", min=1, help="Days the certificate is valid.")
    ] = 365,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help=f"Registry database URL to file in (default ${REGISTRY_ENV} if set; "
            "a URL with a password belongs in that variable, not on the command line).",
        ),
    ] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on", help="Lowest supply-chain finding severity that refuses certification."
        ),
    ] = "high",
    data: DataOption = None,
    evidence: EvidenceOption = None,
    not_applicable: NotApplicableOption = None,
    limit: LimitOption = None,
    concurrency: ConcurrencyOption = 8,
    seed: SeedOption = 0,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Directory for the journal, reports, certificate."),
    ] = Path("llmcert-output"),
    junit: JunitOption = None,
    progress: ProgressOption = True,
    judge: AssessJudgeOption = None,
    refusal_calibration: RefusalCalibrationOption = None,
) -> None:
    """Scan, assess and certify a model. Exit 0 issued, 1 not issued, 2 inconclusive, 3 error.

    Signs only an overall PASS with no blocking supply-chain finding; decision.json says why not.

    With no options: the embedded model against GB/T 45654-2025, on the built-in banks.

    With neither --key nor $LLMCERT_SIGNING_KEY, an issuer key pair is made once in --output.
    """
    from llmcert.cli._assess import _print_assessment, _progress_factory, assess_request
    from llmcert.services.certify import CertifyRequest, certify_sync

    env_key = os.environ.get(KEY_ENV, "").strip()
    request = CertifyRequest(
        assess_request(
            model=model,
            standard=standard,
            data=data,
            evidence=evidence,
            not_applicable=not_applicable,
            limit=limit,
            concurrency=concurrency,
            seed=seed,
            output=output,
            junit=junit,
            judge=judge,
            refusal_calibration=refusal_calibration,
        ),
        key=key if key is not None else (Path(env_key) if env_key else None),
        issuer=issuer,
        validity_days=validity_days,
        registry=registry if registry is not None else (os.environ.get(REGISTRY_ENV) or None),
        scan_fail_on=fail_on.lower(),
    )
    outcome = certify_sync(request, progress=_progress_factory(model) if progress else None)
    if outcome.assessment is not None:
        _print_assessment(outcome.assessment.assessment)
        typer.echo(f"assessment: {outcome.assessment.json_path}")
        typer.echo(f"report: {outcome.assessment.html_path}")
    _print_outcome(outcome)
    raise typer.Exit(EXIT_CODES.get(outcome.decision.value, EXIT_ERROR))


def _print_outcome(outcome: CertifyOutcome) -> None:
    if outcome.generated_public_key is not None:
        private = outcome.generated_public_key.parent / "issuer-key.pem"
        typer.echo(
            f"issuer key pair generated (no --key or ${KEY_ENV}): {private} (mode 0600, keep it "
            f"secret) and {outcome.generated_public_key} (give this one to verifiers)"
        )
    typer.echo(f"supply chain: {outcome.supply_chain.detail}")
    if outcome.certificate_path is not None:
        typer.echo(f"certificate: {outcome.certificate_path} (id {outcome.certificate_id})")
    elif outcome.assessment is not None:  # the requirements are explained above
        ids = ", ".join(r.id for r in outcome.reasons) or "see the assessment"
        typer.echo(f"NOT CERTIFIED ({outcome.decision.value}): {ids}")
    else:
        typer.echo(f"NOT CERTIFIED ({outcome.decision.value}):")
        for reason in outcome.reasons:
            typer.echo(f"  {reason.id} [{reason.status}]: {reason.explanation}")
    typer.echo(f"decision: {outcome.decision_path}")
    if outcome.filing is not None:
        typer.echo(f"registry: filing {outcome.filing.filing_id} is {outcome.filing.status}")


def cert_verify_command(
    file: Annotated[Path, typer.Argument(help="Certificate file (DSSE envelope, JSON).")],
    key: Annotated[Path, typer.Option("--key", help="Issuer public key (PEM).")],
    model: Annotated[
        Path | None,
        typer.Option("--model", help="Model file or folder that must be the certified artefact."),
    ] = None,
    model_digest: Annotated[
        str | None,
        typer.Option(
            "--model-digest", help="sha256:… of the model identity or artefact to check against."
        ),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option("--registry", help="Registry database URL: also check revocation there."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Verify as of this ISO-8601 time with zone (default: now)."),
    ] = None,
    revocations: Annotated[
        Path | None,
        typer.Option(
            "--revocations",
            help="A signed revocation list the registry published: checked offline, same --key.",
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Verify a certificate offline. Exit 0 valid, 1 not valid (any reason), 3 error."""
    from llmcert.certificates import open_revocations, read_signed, verify_certificate

    moment = _parse_at(at) if at is not None else None
    lookups: list[Callable[[str], str | None]] = []
    if revocations is not None:  # trusted only once its signature holds under --key
        lookups.append(open_revocations(read_signed(revocations, "revocation list"), key).reason)
    with ExitStack() as stack:
        if registry is not None:
            from llmcert.registry import open_registry

            lookups.append(stack.enter_context(open_registry(registry)).revocation_reason)

        def is_revoked(certificate_id: str) -> str | None:
            return next((r for f in lookups if (r := f(certificate_id))), None)

        check = verify_certificate(
            file,
            public_key_path=key,
            model_path=model,
            model_digest=model_digest,
            now=moment,
            is_revoked=is_revoked if lookups else None,
        )
    if json_out:
        import json

        # JSON escapes C0 controls itself; bidi and other formatting characters are escaped here.
        text = json.dumps(check.to_dict(), indent=2, ensure_ascii=False)
        typer.echo("\n".join(printable(line) for line in text.split("\n")))
    else:
        _print_check(check)
    if not check.ok:
        raise typer.Exit(EXIT_NOT_VALID)


def _parse_at(value: str) -> datetime:
    from datetime import datetime

    from llmcert.certificates import CertificateError

    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CertificateError(f"--at {value!r} is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise CertificateError(f"--at {value!r} has no time zone; add one, e.g. Z or +08:00")
    return moment


def _print_check(check: CertificateCheck) -> None:
    """Every field escaped: a signed name cannot move the cursor or rewrite the verdict line."""
    say = printable
    status = STATUS_LABELS.get(check.status.value, check.status.value)
    typer.echo(f"{status}: {say(check.details)}")
    p = check.predicate
    if p is None:
        return
    typer.echo(f"  certificate: {say(p.certificate_id)}")
    typer.echo(f"  standard: {say(p.standard.id)} {say(p.standard.version)}")
    typer.echo(f"  model: {say(check.subject_name or '?')} ({say(p.model_digest)})")
    typer.echo(f"  issuer: {say(p.issuer.name)} (key {say(p.issuer.key_id[:16])}…)")
    typer.echo(f"  valid: {p.issued_at.isoformat()} to {p.expires_at.isoformat()}")
