"""API tokens in SQL (the ``api_tokens`` table of the state folder's SQLite): only a
SHA-256 of each token is kept, so a copy of the database grants nothing.

Tokens are 256 random bits, so a plain hash (no salt, no stretching) is enough: there is
no dictionary to try, and checking one costs a single indexed look-up per request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Column, Engine, Float, MetaData, String, Table, delete, insert, select

metadata = MetaData()

tokens_table = Table(
    "api_tokens",
    metadata,
    Column("name", String, primary_key=True),
    Column("digest", String, nullable=False, unique=True),
    Column("created", Float, nullable=False),
)

TOKEN_PREFIX = "sbt_"
"""Marks a Switchboard API token, so secret scanners and people recognise one."""


class TokenExistsError(ValueError):
    """A token of that name exists already (revoke it first)."""


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    created: float


class SqlTokenStore:
    """Create, list, revoke and check API tokens."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def create(self, name: str) -> str:
        """A new token named ``name``; the clear text is returned once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as connection:
            found = connection.execute(
                select(tokens_table.c.name).where(tokens_table.c.name == name)
            )
            if found.first() is not None:
                raise TokenExistsError(f"a token named {name!r} exists; revoke it first")
            connection.execute(
                insert(tokens_table).values(name=name, digest=digest(token), created=time.time())
            )
        return token

    def list(self) -> list[TokenInfo]:
        """Every token's name and creation time, oldest first."""
        statement = select(tokens_table.c.name, tokens_table.c.created).order_by(
            tokens_table.c.created
        )
        with self.engine.connect() as connection:
            return [TokenInfo(row.name, row.created) for row in connection.execute(statement)]

    def revoke(self, name: str) -> bool:
        """Delete the token named ``name``; False when there was none."""
        with self.engine.begin() as connection:
            result = connection.execute(delete(tokens_table).where(tokens_table.c.name == name))
        return bool(result.rowcount)

    def check(self, token: str) -> str | None:
        """The name of the token, or None when it is unknown or revoked."""
        statement = select(tokens_table.c.name).where(tokens_table.c.digest == digest(token))
        with self.engine.connect() as connection:
            row = connection.execute(statement).first()
        return None if row is None else str(row.name)
