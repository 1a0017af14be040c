"""Filings remember the Idempotency-Key they were submitted with, once per applicant.

Revision ID: 0002
Revises: 0001
Created: 2026-12-04

A client that retries a submission (a timeout, a dropped connection) sends the
same key and gets the filing the first attempt made, not a second one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("filings") as batch:
        batch.add_column(sa.Column("submission_key", sa.String(200), nullable=True))
        batch.create_unique_constraint(
            "uq_filings_applicant_submission_key", ["applicant", "submission_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("filings") as batch:
        batch.drop_constraint("uq_filings_applicant_submission_key", type_="unique")
        batch.drop_column("submission_key")
