"""The first registry schema: models, filings, evidence, certificates, tokens, audit chain.

Revision ID: 0001
Revises: none
Created: 2026-11-20

Status lists are spelled out rather than imported: a migration is a snapshot
and must not change when the code's enums do.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

FILING_STATUSES = (
    "submitted",
    "assessing",
    "awaiting_review",
    "approved",
    "rejected",
    "certified",
    "suspended",
    "revoked",
    "expired",
)
CERTIFICATE_STATUSES = ("valid", "suspended", "revoked", "expired")
ROLES = ("applicant", "assessor", "admin")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ref", sa.String(2000), nullable=False),
        sa.Column("identity_digest", sa.String(80), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
    )
    op.create_index("ix_models_identity_digest", "models", ["identity_digest"])
    op.create_index("ix_models_owner", "models", ["owner"])

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("token_hash", sa.String(80), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("revoked_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sa.CheckConstraint(_one_of("role", ROLES), name="ck_api_tokens_role"),
    )

    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(80), nullable=False),
        sa.Column("hash", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entries"),
        sa.UniqueConstraint("hash", name="uq_audit_entries_hash"),
    )
    op.create_index("ix_audit_entries_subject", "audit_entries", ["subject"])

    # The link to the renewed certificate is added once that table exists.
    op.create_table(
        "filings",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("standard_ref", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("applicant", sa.String(200), nullable=False),
        sa.Column("renews_certificate_id", sa.String(64), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_filings"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_filings_model_id_models"),
        sa.CheckConstraint(_one_of("status", FILING_STATUSES), name="ck_filings_status"),
    )
    op.create_index("ix_filings_model_id", "filings", ["model_id"])
    op.create_index("ix_filings_standard_ref", "filings", ["standard_ref"])
    op.create_index("ix_filings_renews_certificate_id", "filings", ["renews_certificate_id"])

    op.create_table(
        "certificates",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("filing_id", sa.String(64), nullable=False),
        sa.Column("model_digest", sa.String(80), nullable=False),
        sa.Column("standard_ref", sa.String(200), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("issued_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status_changed_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_certificates"),
        sa.ForeignKeyConstraint(
            ["filing_id"], ["filings.id"], name="fk_certificates_filing_id_filings"
        ),
        sa.CheckConstraint(_one_of("status", CERTIFICATE_STATUSES), name="ck_certificates_status"),
        sa.CheckConstraint("expires_at > issued_at", name="ck_certificates_validity"),
    )
    for column in ("filing_id", "model_digest", "standard_ref", "status"):
        op.create_index(f"ix_certificates_{column}", "certificates", [column])

    with op.batch_alter_table("filings") as batch:
        batch.create_foreign_key(
            "fk_filings_renews_certificate_id_certificates",
            "certificates",
            ["renews_certificate_id"],
            ["id"],
        )

    op.create_table(
        "assessments",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("filing_id", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("recorded_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
        sa.ForeignKeyConstraint(
            ["filing_id"], ["filings.id"], name="fk_assessments_filing_id_filings"
        ),
    )
    op.create_index("ix_assessments_filing_id", "assessments", ["filing_id"])
    op.create_index("ix_assessments_digest", "assessments", ["digest"])

    op.create_table(
        "attachments",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("filing_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(80), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("path", sa.String(4000), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_attachments"),
        sa.ForeignKeyConstraint(
            ["filing_id"], ["filings.id"], name="fk_attachments_filing_id_filings"
        ),
        sa.UniqueConstraint("filing_id", "name", name="uq_attachments_filing_id_name"),
        sa.CheckConstraint(
            "(content IS NULL) <> (path IS NULL)", name="ck_attachments_content_or_path"
        ),
    )
    op.create_index("ix_attachments_filing_id", "attachments", ["filing_id"])


def downgrade() -> None:
    op.drop_table("attachments")
    op.drop_table("assessments")
    with op.batch_alter_table("filings") as batch:
        batch.drop_constraint("fk_filings_renews_certificate_id_certificates", type_="foreignkey")
    op.drop_table("certificates")
    op.drop_table("filings")
    op.drop_table("audit_entries")
    op.drop_table("api_tokens")
    op.drop_table("models")
