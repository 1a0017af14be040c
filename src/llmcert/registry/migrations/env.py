"""Alembic environment: migrate the connection ``open_registry`` hands over.

The connection arrives through ``config.attributes`` already inside a
transaction, so the whole upgrade commits or rolls back as one. No URL is
read from any file, so none can leak a password.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from llmcert.registry._schema import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by rebuilding them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if context.is_offline_mode() or not isinstance(_connection, Connection):
    raise RuntimeError(
        "the registry schema is migrated by llmcert.registry.open_registry, not by the alembic CLI"
    )
_run(_connection)
