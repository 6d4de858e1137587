"""Registered contacts in SQL (SQLite in the state folder by default), so bindings survive
a restart. Written in batches by the location service's write-behind flush."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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
        rows = [{name: getattr(c, name) for name in _FIELDS} for c in upserts]
        keys = list(deletes)
        if not rows and not keys:
            return
        with self.engine.begin() as connection:
            if rows:
                statement = sqlite_insert(contacts_table)
                update = {name: statement.excluded[name] for name in _FIELDS[2:]}
                connection.execute(
                    statement.on_conflict_do_update(index_elements=["aor", "uri"], set_=update),
                    rows,
                )
            if keys:
                connection.execute(
                    delete(contacts_table).where(
                        and_(
                            contacts_table.c.aor == bindparam("key_aor"),
                            contacts_table.c.uri == bindparam("key_uri"),
                        )
                    ),
                    [{"key_aor": aor, "key_uri": uri} for aor, uri in keys],
                )
