"""Registered contacts in SQL (SQLite in the state folder by default), so bindings survive
a restart. Written in batches by the location service's write-behind flush."""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
)

from switchboard.core.contact import Contact

metadata = MetaData()

contacts_table = Table(
    "contacts",
    metadata,
    Column("aor", String, primary_key=True),
    Column("uri", String, primary_key=True),
    Column("expires_at", Float, nullable=False),
    Column("endpoint", String, nullable=False),
    Column("call_id", String, nullable=False, default=""),
    Column("cseq", Integer, nullable=False, default=0),
    Column("user_agent", String, nullable=False, default=""),
    Column("transport", String, nullable=False, default="udp"),
    Column("source_host", String, nullable=False, default=""),
    Column("source_port", Integer, nullable=False, default=0),
    Column("connection", Integer, nullable=False, default=0),
    Column("path", String, nullable=False, default=""),
    Column("registered_at", Float, nullable=False, default=0.0),
)

_FIELDS = [c.name for c in contacts_table.columns]
_row = attrgetter(*_FIELDS)
"""A contact's column values in table order, as one tuple (built in C)."""
_UPSERT = (
    f"INSERT INTO contacts ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})"
    " ON CONFLICT (aor, uri) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _FIELDS[2:])
)
_DELETE = "DELETE FROM contacts WHERE aor = ? AND uri = ?"


def sqlite_engine(path: str) -> Engine:
    """An engine for a SQLite file, in WAL mode so a flush never blocks readers."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(connection: object, _record: object) -> None:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


class SqlContactStore:
    """Contacts table access: load all at start-up, upsert and delete in one transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def load(self) -> list[Contact]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(contacts_table)).mappings().all()
        return [Contact(**{name: row[name] for name in _FIELDS}) for row in rows]

    def save(self, upserts: Iterable[Contact], deletes: Iterable[tuple[str, str]]) -> None:
        """Upsert and delete in one transaction, each as one prepared statement run over
        the batch: under refresh load every row costs SQLite's work and little more."""
        rows = list(map(_row, upserts))
        keys = list(deletes)
        if not rows and not keys:
            return
        with self.engine.begin() as connection:
            if rows:
                connection.exec_driver_sql(_UPSERT, rows)
            if keys:
                connection.exec_driver_sql(_DELETE, keys)
