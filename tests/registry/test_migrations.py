"""Opening a registry: URL choice, connection setup, migrations, and the models matching them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from llmcert.registry import RegistryError, default_database_path, open_registry
from llmcert.registry._engine import alembic_config, resolve_url
from llmcert.registry._schema import Base
from tests.registry._helpers import new_filing

TABLES = {
    "alembic_version",
    "api_tokens",
    "assessments",
    "attachments",
    "audit_entries",
    "certificates",
    "filings",
    "models",
}


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_upgrade_from_empty_reaches_head(db_url: str) -> None:
    engine = create_engine(resolve_url(db_url))
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == []
    engine.dispose()
    registry = open_registry(db_url)
    try:
        with registry.engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == TABLES
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == _head()
    finally:
        registry.close()


def test_models_match_the_migrations(registry: object, db_url: str) -> None:
    engine = create_engine(resolve_url(db_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_reopening_keeps_data_and_schema(db_url: str) -> None:
    first = open_registry(db_url)
    filing = new_filing(first)
    first.close()
    again = open_registry(db_url)
    try:
        assert again.get_filing(filing.id) == filing
    finally:
        again.close()


def test_downgrade_to_empty_and_up_again(db_url: str) -> None:
    open_registry(db_url).close()
    engine = create_engine(resolve_url(db_url))
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    registry = open_registry(db_url)
    try:
        new_filing(registry)
    finally:
        registry.close()


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    registry = open_registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    try:
        with registry.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            with pytest.raises(Exception, match="FOREIGN KEY"):
                connection.exec_driver_sql(
                    "INSERT INTO filings (id, model_id, standard_ref, status, applicant, "
                    "created_at, updated_at) VALUES ('f', 'no-model', 's', 'submitted', 'a', "
                    "'2026-01-01', '2026-01-01')"
                )
    finally:
        registry.close()


def test_url_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "from-env.sqlite"
    monkeypatch.setenv("LLMCERT_DATABASE_URL", f"sqlite:///{target}")
    open_registry().close()
    assert target.is_file()


def test_default_is_a_file_under_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMCERT_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    expected = tmp_path / "data" / "llmcert" / "registry.sqlite"
    assert default_database_path() == expected
    open_registry().close()
    assert expected.is_file()
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_database_path() == tmp_path / "home" / ".local/share/llmcert/registry.sqlite"


def test_postgres_url_gets_the_psycopg_driver() -> None:
    assert resolve_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert resolve_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(RegistryError, match="unsupported"):
        resolve_url("mysql://u@h/db")


def test_bad_url_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMCERT_DATABASE_URL", "not a url with hunter2 inside")
    with pytest.raises(RegistryError) as caught:
        open_registry()
    assert "hunter2" not in str(caught.value)
    assert "LLMCERT_DATABASE_URL" in str(caught.value)


def test_password_never_reaches_logs_or_errors(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Trust authentication ignores the password, so the open succeeds and is logged.
    with_password = pg_url.replace("postgres@", "postgres:s3cret-pw@")
    caplog.set_level(logging.DEBUG)
    open_registry(with_password).close()
    assert "s3cret-pw" not in caplog.text
    assert "***" in caplog.text
    closed = with_password.rsplit(":", 1)[0] + ":1/x"  # nothing listens on port 1
    with pytest.raises(RegistryError, match="cannot open") as caught:
        open_registry(closed)
    assert "s3cret-pw" not in str(caught.value)
    assert "s3cret-pw" not in caplog.text
