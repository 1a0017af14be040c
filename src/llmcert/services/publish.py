"""Publishing a registry's state outside its database: a signed audit anchor and revocation list.

The operator chooses the files (a mount another system backs up, a directory
a web server shares). The anchor is written only after the chain has been
verified up to its head, so a tampered log is never vouched for; both files
are replaced atomically, so a reader never sees half a document.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from llmcert.errors import LlmcertError
from llmcert.registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    seq: int
    head_hash: str
    revoked: int


def publish_registry(
    registry: Registry,
    *,
    private_key_path: Path,
    issuer: str,
    anchor: Path | None = None,
    revocations: Path | None = None,
    now: datetime | None = None,
) -> Published:
    """Sign and write the audit head and the revocation list (whichever paths are given)."""
    from llmcert._fileio import write_json_atomic
    from llmcert.certificates import sign_anchor, sign_revocations
    from llmcert.registry import verify_audit

    moment = now or datetime.now(UTC)
    report = verify_audit(registry)
    if not report.ok:
        raise LlmcertError(
            f"not publishing: the audit log is broken at seq {report.first_bad_seq} "
            f"({report.problem}; {report.detail})"
        )
    revoked = registry.revoked_certificates()
    if anchor is not None:
        write_json_atomic(
            anchor,
            sign_anchor(
                seq=report.head_seq,
                head_hash=report.head_hash,
                published_at=moment,
                issuer=issuer,
                private_key_path=private_key_path,
            ),
        )
    if revocations is not None:
        write_json_atomic(
            revocations,
            sign_revocations(
                revoked=revoked,
                published_at=moment,
                issuer=issuer,
                private_key_path=private_key_path,
            ),
        )
    return Published(report.head_seq, report.head_hash, len(revoked))
