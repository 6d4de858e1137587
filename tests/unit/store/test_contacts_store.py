"""The contacts table: batches of upserts and deletes come back whole from load()."""

from pathlib import Path

from switchboard.core.contact import Contact
from switchboard.store.contacts import SqlContactStore, sqlite_engine


def contact(aor: str, port: int, expires_at: float, cseq: int = 1) -> Contact:
    return Contact(
        aor,
        f"sip:{aor}@192.0.2.10:{port}",
        expires_at,
        aor,
        call_id=f"{aor}-call",
        cseq=cseq,
        user_agent="Phone/1.0",
        transport="tls",
        source_host="192.0.2.10",
        source_port=port,
        connection=7,
        path="<sip:edge.example.com;lr>",
        registered_at=1000.5,
    )


def test_an_upsert_batch_inserts_then_updates_every_column(tmp_path: Path) -> None:
    store = SqlContactStore(sqlite_engine(str(tmp_path / "db.sqlite")))
    first = [contact("alice", 5060, 2000.0), contact("bob", 5062, 2100.0)]
    store.save(first, [])
    assert sorted(store.load(), key=lambda c: c.aor) == first
    refreshed = contact("alice", 5060, 5000.0, cseq=9)
    store.save([refreshed], [])
    assert sorted(store.load(), key=lambda c: c.aor) == [refreshed, first[1]]


def test_deletes_remove_only_their_rows_in_the_same_batch(tmp_path: Path) -> None:
    store = SqlContactStore(sqlite_engine(str(tmp_path / "db.sqlite")))
    alice, bob = contact("alice", 5060, 2000.0), contact("bob", 5062, 2100.0)
    store.save([alice, bob], [])
    carol = contact("carol", 5064, 2200.0)
    store.save([carol], [(alice.aor, alice.uri), ("nobody", "sip:nobody@192.0.2.1")])
    assert sorted(store.load(), key=lambda c: c.aor) == [bob, carol]
    store.save([], [])
    assert len(store.load()) == 2
