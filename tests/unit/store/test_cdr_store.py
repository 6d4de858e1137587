"""The cdr table: records come back as saved, newest first, a batch in one transaction."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import inspect

from switchboard.core.cdr import BUSY, NO_ANSWER, CallRecord, LegQuality
from switchboard.store.cdr import SqlCdrStore
from switchboard.store.contacts import SqlContactStore, sqlite_engine
from tests.unit.core.test_cdr import QUALITY, record


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "switchboard.db")


def numbered(count: int, start: float = 1_700_000_000.0) -> list[CallRecord]:
    return [
        record(uniqueid=f"{start + i}.{i}", linkedid=f"{start + i}.{i}", start=start + i)
        for i in range(count)
    ]


def test_round_trip_keeps_every_field(db: str) -> None:
    callee = LegQuality(
        packets_received=10, packets_lost=0, loss=0.0, jitter_ms=0.0, rtt_ms=None, mos=4.4
    )
    answered = record(callee_quality=callee)
    unanswered = record(
        uniqueid="1700000100.7",
        start=1_700_000_100.0,
        answer=None,
        end=1_700_000_130.0,
        duration=30,
        billsec=0,
        disposition=NO_ANSWER,
        hangupcause=19,
        dstchannel="",
        caller_quality=None,
        callee_quality=None,
    )
    SqlCdrStore(sqlite_engine(db)).save([answered, unanswered])
    reopened = SqlCdrStore(sqlite_engine(db))
    assert reopened.recent() == [unanswered, answered]
    assert reopened.count() == 2


def test_quality_is_stored_in_columns_not_json(db: str) -> None:
    engine = sqlite_engine(db)
    SqlCdrStore(engine).save([record()])
    columns = {column["name"] for column in inspect(engine).get_columns("cdr")}
    for leg in ("caller", "callee"):
        for name in ("packets_received", "packets_lost", "loss", "jitter_ms", "rtt_ms", "mos"):
            assert f"{leg}_{name}" in columns
    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT caller_mos, caller_rtt_ms, callee_mos, disposition FROM cdr"
        ).one()
    assert tuple(row) == (QUALITY.mos, QUALITY.rtt_ms, None, "ANSWERED")


def test_recent_is_newest_first_and_limited(db: str) -> None:
    store = SqlCdrStore(sqlite_engine(db))
    records = numbered(30)
    store.save(records[15:])
    store.save(records[:15])  # saved later, started earlier: order is by start
    assert store.recent(5) == records[:-6:-1]
    assert store.recent() == records[:-21:-1]
    assert store.recent(100) == records[::-1]
    assert store.recent(0) == []
    assert store.recent(-1) == []


def test_same_start_lists_the_last_saved_first(db: str) -> None:
    store = SqlCdrStore(sqlite_engine(db))
    first, second = record(uniqueid="a"), record(uniqueid="b", disposition=BUSY)
    store.save([first])
    store.save([second])
    assert store.recent() == [second, first]


def test_many_records_in_one_save(db: str) -> None:
    store = SqlCdrStore(sqlite_engine(db))
    store.save(iter(numbered(2000)))  # any iterable, consumed once
    assert store.count() == 2000
    assert store.recent(1)[0].start == 1_700_000_000.0 + 1999


def test_a_failing_batch_writes_nothing(db: str) -> None:
    store = SqlCdrStore(sqlite_engine(db))
    broken = replace(record(), start=math.nan)  # SQLite stores NaN as NULL: NOT NULL fails
    with pytest.raises(Exception, match="NOT NULL"):
        store.save([*numbered(3), broken])
    assert store.count() == 0


def test_empty_save_and_empty_table(db: str) -> None:
    store = SqlCdrStore(sqlite_engine(db))
    store.save([])
    assert store.count() == 0
    assert store.recent() == []


def test_shares_the_database_file_with_contacts(db: str) -> None:
    engine = sqlite_engine(db)
    contacts = SqlContactStore(engine)
    cdrs = SqlCdrStore(engine)
    cdrs.save([record()])
    assert contacts.load() == []
    assert set(inspect(engine).get_table_names()) >= {"cdr", "contacts"}
