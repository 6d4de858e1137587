"""Call detail records in SQL (the ``cdr`` table, beside ``contacts`` in the state folder's
SQLite by default), one row per call with Asterisk's column names.

Differences from Asterisk's ``cdr`` table (cdr_adaptive_odbc): ``start``, ``answer`` and
``end`` are epoch seconds (REAL) rather than a ``calldate`` DATETIME, ``answer`` is NULL
when the call was never answered, and each leg's RTP quality has its own columns
(``caller_loss``, ``callee_mos``, ...; all NULL for a leg without media), so reports can
filter and average them in SQL.

Writes are meant for the store thread: :meth:`SqlCdrStore.save` takes a batch and writes it
in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.types import TypeEngine

from switchboard.core.cdr import CallRecord, LegQuality

metadata = MetaData()

_TEXT_FIELDS = (
    "uniqueid",
    "linkedid",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
)
_QUALITY_FIELDS: tuple[tuple[str, TypeEngine[Any]], ...] = (
    ("packets_received", Integer()),
    ("packets_lost", Integer()),
    ("loss", Float()),
    ("jitter_ms", Float()),
    ("rtt_ms", Float()),
    ("mos", Float()),
)
_LEGS = ("caller", "callee")

cdr_table = Table(
    "cdr",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *(Column(name, String, nullable=False, default="") for name in _TEXT_FIELDS),
    Column("start", Float, nullable=False),
    Column("answer", Float, nullable=True),
    Column("end", Float, nullable=False),
    Column("duration", Integer, nullable=False),
    Column("billsec", Integer, nullable=False),
    Column("disposition", String, nullable=False),
    Column("hangupcause", Integer, nullable=False),
    *(
        Column(f"{leg}_{name}", kind, nullable=True)
        for leg in _LEGS
        for name, kind in _QUALITY_FIELDS
    ),
    Index("cdr_start", "start"),
    Index("cdr_linkedid", "linkedid"),
)

CDR_COLUMNS: tuple[str, ...] = (
    *_TEXT_FIELDS,
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "hangupcause",
)


def _row(record: CallRecord) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(record, name) for name in CDR_COLUMNS}
    for leg, quality in (("caller", record.caller_quality), ("callee", record.callee_quality)):
        for name, _kind in _QUALITY_FIELDS:
            row[f"{leg}_{name}"] = None if quality is None else getattr(quality, name)
    return row


def _quality(row: RowMapping, leg: str) -> LegQuality | None:
    if row[f"{leg}_packets_received"] is None:
        return None
    return LegQuality(**{name: row[f"{leg}_{name}"] for name, _kind in _QUALITY_FIELDS})


def _record(row: RowMapping) -> CallRecord:
    return CallRecord(
        **{name: row[name] for name in CDR_COLUMNS},
        caller_quality=_quality(row, "caller"),
        callee_quality=_quality(row, "callee"),
    )


@dataclass(frozen=True, slots=True)
class CdrQuery:
    """Filters for :meth:`SqlCdrStore.query`; empty or None means any."""

    src: str = ""
    dst: str = ""
    disposition: str = ""
    since: float | None = None
    """Calls that started at or after this epoch second."""
    until: float | None = None
    """Calls that started before this epoch second."""


class SqlCdrStore:
    """The ``cdr`` table: append batches of records, read the latest back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    def save(self, records: Iterable[CallRecord]) -> None:
        """Append the records in one transaction (nothing to do for an empty batch)."""
        rows = [_row(record) for record in records]
        if not rows:
            return
        with self.engine.begin() as connection:
            connection.execute(insert(cdr_table), rows)

    def recent(self, limit: int = 20) -> list[CallRecord]:
        """The ``limit`` most recent records, newest start first (ties: latest saved)."""
        if limit <= 0:
            return []
        statement = (
            select(cdr_table).order_by(cdr_table.c.start.desc(), cdr_table.c.id.desc()).limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [_record(row) for row in rows]

    def count(self) -> int:
        """How many records the table holds."""
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(cdr_table)).scalar_one())

    def query(self, where: CdrQuery, limit: int, offset: int = 0) -> tuple[int, list[CallRecord]]:
        """(how many records match, one page of them newest first)."""
        conditions = []
        if where.src:
            conditions.append(cdr_table.c.src == where.src)
        if where.dst:
            conditions.append(cdr_table.c.dst == where.dst)
        if where.disposition:
            conditions.append(cdr_table.c.disposition == where.disposition)
        if where.since is not None:
            conditions.append(cdr_table.c.start >= where.since)
        if where.until is not None:
            conditions.append(cdr_table.c.start < where.until)
        total = select(func.count()).select_from(cdr_table).where(*conditions)
        page = (
            select(cdr_table)
            .where(*conditions)
            .order_by(cdr_table.c.start.desc(), cdr_table.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as connection:
            count = int(connection.execute(total).scalar_one())
            rows = connection.execute(page).mappings().all()
        return count, [_record(row) for row in rows]
