"""API tokens: the secret is shown once, only its hash is stored, checks are constant-time."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from llmcert._hashing import digest_bytes
from llmcert.registry import Registry, RegistryError, Role


def _every_stored_value(registry: Registry) -> str:
    """All rows of all tables, as text, to look for a leaked secret in."""
    dump: list[str] = []
    with registry.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                dump.extend(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
    return "\n".join(dump)


def test_token_round_trip(registry: Registry) -> None:
    token_id, secret = registry.create_token("ci-bot", "assessor", actor="admin")
    found = registry.authenticate(secret)
    assert found is not None
    assert (found.id, found.name, found.role, found.active) == (
        token_id,
        "ci-bot",
        Role.ASSESSOR,
        True,
    )
    assert registry.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert registry.authenticate("") is None
    assert registry.authenticate("llmc_" + token_id + "_" + "x" * 10) is None
    other_id, _ = registry.create_token("someone", Role.APPLICANT, actor="admin")
    assert registry.authenticate(secret.replace(token_id, other_id)) is None


def test_revoked_token_no_longer_authenticates(registry: Registry) -> None:
    token_id, secret = registry.create_token("old", Role.ADMIN, actor="admin")
    assert registry.revoke_token(token_id, actor="admin") is True
    assert registry.authenticate(secret) is None
    assert registry.revoke_token(token_id, actor="admin") is False
    assert [t.active for t in registry.list_tokens()] == [False]
    assert [e.action for e in registry.audit_entries()] == ["token.create", "token.revoke"]


def test_unknown_role_is_refused(registry: Registry) -> None:
    with pytest.raises(RegistryError, match="roles are"):
        registry.create_token("x", "superuser", actor="admin")
    assert registry.list_tokens() == []


def test_secret_is_never_stored_only_its_hash(registry: Registry, db_url: str) -> None:
    _, secret = registry.create_token("ci-bot", Role.APPLICANT, actor="admin")
    random_part = secret.rsplit("_", 1)[1]
    dump = _every_stored_value(registry)
    assert digest_bytes(secret.encode()) in dump  # the scan does see the token row
    assert secret not in dump
    assert random_part not in dump
    if db_url.startswith("sqlite:///"):
        registry.close()  # checkpoint the WAL, then read every byte the database left behind
        database = Path(db_url.removeprefix("sqlite:///"))
        files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        raw = b"".join(p.read_bytes() for p in files)
        assert digest_bytes(secret.encode()).encode() in raw
        assert random_part.encode() not in raw


def test_authentication_compares_in_constant_time(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, secret = registry.create_token("ci-bot", Role.APPLICANT, actor="admin")
    seen: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert registry.authenticate(secret) is not None
    assert seen == [(digest_bytes(secret.encode()), digest_bytes(secret.encode()))]
