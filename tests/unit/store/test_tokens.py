"""API tokens: shown once, kept hashed, checked, listed and revoked."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from switchboard.store.contacts import sqlite_engine
from switchboard.store.tokens import TOKEN_PREFIX, SqlTokenStore, TokenExistsError, digest


def test_a_token_is_kept_only_as_its_hash(tmp_path: Path) -> None:
    database = tmp_path / "switchboard.db"
    store = SqlTokenStore(sqlite_engine(str(database)))
    token = store.create("crm")
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    assert store.check(token) == "crm"
    assert store.check(token + "x") is None and store.check("") is None
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name, digest FROM api_tokens").fetchall()
    assert rows == [("crm", digest(token))]
    with pytest.raises(TokenExistsError):
        store.create("crm")
    other = store.create("admin")
    assert [info.name for info in store.list()] == ["crm", "admin"]
    assert store.revoke("crm") and not store.revoke("crm")
    assert store.check(token) is None and store.check(other) == "admin"
