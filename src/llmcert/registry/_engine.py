"""Open a registry: pick the database, set the connection up, migrate to head.

The URL comes from the caller, else ``LLMCERT_DATABASE_URL``, else an SQLite
file under the XDG data directory. It is only ever shown with its password
hidden. SQLite runs in WAL mode with foreign keys on, and the store's write
transactions start with BEGIN IMMEDIATE so writers queue for the file lock at
the start instead of failing half-way (see ``_audit``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import StaticPool

from llmcert.registry._base import WRITE_OPTION
from llmcert.registry._errors import RegistryError
from llmcert.registry._store import Registry

log = logging.getLogger(__name__)

ENV_VAR = "LLMCERT_DATABASE_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x6C6C6D63  # any constant shared by every llmcert process ("llmc")


def default_database_path() -> Path:
    """``$XDG_DATA_HOME/llmcert/registry.sqlite``; the XDG default when unset or relative."""
    base = os.environ.get("XDG_DATA_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "share"
    return root / "llmcert" / "registry.sqlite"


def resolve_url(url: str | None = None) -> URL:
    """The database to use, with a bare ``postgresql://`` mapped to the psycopg 3 driver."""
    raw = url if url is not None else os.environ.get(ENV_VAR, "")
    if not raw:
        return make_url("sqlite:///" + str(default_database_path()))
    try:
        parsed = make_url(raw)
    except ArgumentError:
        source = "the given URL" if url is not None else ENV_VAR
        # The text itself is not repeated: it may hold a password.
        raise RegistryError(f"{source} is not a database URL") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise RegistryError(
            f"unsupported registry database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    return parsed


def redacted(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by _sqlite_begin, not by the driver's own guesswork.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


#: Connections kept open. A server answers reads from a pool of worker threads;
#: with fewer pooled connections than busy threads, the overflow connections are
#: opened and closed again on every request (a new PostgreSQL backend each time).
POOL_SIZE = 20
POOL_OVERFLOW = 20


def create_registry_engine(url: URL) -> Engine:
    pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **pool)
    database = url.database or ""
    if database in ("", ":memory:"):
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60}, **pool)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def alembic_config() -> Config:
    """Alembic settings built in code: the package ships no ``alembic.ini``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Migrate in one transaction that concurrent openers wait for, then check foreign keys."""
    config = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # Only settable outside a transaction; table rebuilds need it off.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                if not sqlite:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RegistryError("the registry migration left broken foreign keys")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def open_registry(
    url: str | None = None, *, clock: Callable[[], datetime] | None = None
) -> Registry:
    """Open (creating if needed) the registry database at ``url`` and bring it to the newest schema."""
    resolved = resolve_url(url)
    engine = create_registry_engine(resolved)
    log.info("opening registry %s", redacted(resolved))
    try:
        upgrade_to_head(engine)
    except DBAPIError as exc:
        engine.dispose()
        raise RegistryError(
            f"cannot open the registry at {redacted(resolved)}: {exc.orig}"
        ) from exc
    except CommandError as exc:
        engine.dispose()
        raise RegistryError(
            f"the registry at {redacted(resolved)} has a schema this llmcert does not know "
            f"(written by a newer version?): {exc}"
        ) from exc
    except BaseException:
        engine.dispose()
        raise
    return Registry(engine, clock=clock)
