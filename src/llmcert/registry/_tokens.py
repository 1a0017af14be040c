"""API tokens: random secrets handed out once, kept only as their sha256.

A secret reads ``llmc_<token id>_<random>``. The id part lets the store find
the row without searching by the secret, and the stored hash is then compared
in constant time, so neither the lookup nor the comparison leaks the secret.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable

from sqlalchemy import select

from llmcert._hashing import digest_bytes
from llmcert.registry._base import StoreBase, check_text, new_id
from llmcert.registry._errors import RegistryError
from llmcert.registry._records import TokenRecord
from llmcert.registry._schema import TokenRow
from llmcert.registry._states import Role

_PREFIX = "llmc_"
_SECRET = re.compile(r"^llmc_([0-9a-f]{32})_[A-Za-z0-9_-]{43}$")


def hash_secret(secret: str) -> str:
    return digest_bytes(secret.encode("utf-8"))


class TokenStore(StoreBase):
    def create_token(self, name: str, role: Role | str, *, actor: str) -> tuple[str, str]:
        """Make a token and return ``(token_id, secret)``; the secret is never seen again."""
        check_text(name, "token name")
        try:
            role = Role(role)
        except ValueError:
            raise RegistryError(
                f"unknown role {role!r}; roles are: {', '.join(r.value for r in Role)}"
            ) from None
        token_id = new_id()
        secret = f"{_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        now = self._now()
        with self._write() as session:
            session.add(
                TokenRow(
                    id=token_id,
                    name=name,
                    role=role.value,
                    token_hash=hash_secret(secret),
                    created_at=now,
                    revoked_at=None,
                )
            )
            self._audit(
                session,
                actor=actor,
                action="token.create",
                subject=f"token:{token_id}",
                # The hash (of a random secret) lets the log vouch for the row's credential.
                payload={"name": name, "role": role.value, "token_hash": hash_secret(secret)},
                at=now,
            )
        return token_id, secret

    def authenticate(self, secret: str) -> TokenRecord | None:
        """The active token this secret belongs to, or None for anything else."""
        match = _SECRET.match(secret) if isinstance(secret, str) else None
        if match is None:
            return None
        offered = hash_secret(secret)
        with self._read() as session:
            row = session.get(TokenRow, match.group(1))
            if row is None or not hmac.compare_digest(row.token_hash, offered):
                return None
            if row.revoked_at is not None:
                return None
            return TokenRecord.of(row)

    def token_names(self, token_ids: Iterable[str]) -> dict[str, str]:
        """Token id → name, for showing owners (recorded by id) the way people know them."""
        wanted = {t for t in token_ids if "\x00" not in t}
        if not wanted:
            return {}
        with self._read() as session:
            rows = session.execute(
                select(TokenRow.id, TokenRow.name).where(TokenRow.id.in_(wanted))
            )
            return {row_id: name for row_id, name in rows}

    def active_token(self, token_id: str) -> TokenRecord | None:
        """The token with this id if it is not revoked (a session's principal, looked up again)."""
        if "\x00" in token_id:
            return None
        with self._read() as session:
            row = session.get(TokenRow, token_id)
            return TokenRecord.of(row) if row is not None and row.revoked_at is None else None

    def revoke_token(self, token_id: str, *, actor: str) -> bool:
        """Revoke a token; False if it already was (nothing changes then)."""
        with self._write() as session:
            row = self._get(session, TokenRow, token_id, "token")
            if row.revoked_at is not None:
                return False
            row.revoked_at = now = self._now()
            self._audit(
                session,
                actor=actor,
                action="token.revoke",
                subject=f"token:{token_id}",
                payload={"name": row.name, "role": row.role},
                at=now,
            )
            return True

    def list_tokens(self) -> list[TokenRecord]:
        with self._read() as session:
            rows = session.scalars(select(TokenRow).order_by(TokenRow.created_at, TokenRow.id))
            return [TokenRecord.of(row) for row in rows]
