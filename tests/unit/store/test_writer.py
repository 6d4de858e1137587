"""The store's writer thread runs at idle priority, and the server's housekeeping never
waits for it: contacts expire on time while a batch is slow, a failed batch is logged and
the next ones still go, and the last state reaches the database."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from switchboard.app import Server
from switchboard.configcheck import load_and_check
from switchboard.core.contact import Contact
from switchboard.store.writer import writer_executor

REFERENCE = Path(__file__).parents[3] / "examples" / "reference"


def test_the_writer_thread_runs_at_idle_priority() -> None:
    executor = writer_executor()
    try:
        policy = executor.submit(os.sched_getscheduler, 0).result(timeout=5)
    finally:
        executor.shutdown(wait=True)
    assert policy == os.SCHED_IDLE
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the caller's thread keeps its own


def server_in(state: Path) -> Server:
    return Server(load_and_check(REFERENCE).config, REFERENCE, state)


async def until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return False


def test_contacts_expire_while_a_batch_waits_on_the_thread(tmp_path: Path) -> None:
    server = server_in(tmp_path)
    gate = threading.Event()
    server.executor.submit(gate.wait, 10)  # the thread is busy until the gate opens

    async def main() -> None:
        now = time.time()
        server.location.add(Contact("101", "sip:101@127.0.0.1:5070", now + 0.6, "101"), now)
        housekeeping = asyncio.create_task(server._housekeeping())
        try:
            expired = await until(lambda: len(server.location) == 0, 5)
            assert expired, "the contact outlived its expiry while the writer was busy"
            assert not gate.is_set()
        finally:
            gate.set()
            housekeeping.cancel()

    asyncio.run(main())
    server.executor.shutdown(wait=True)
    server._flush()
    assert server.store.load() == []  # its addition, then its removal, in that order


def test_a_failed_batch_is_logged_and_the_next_ones_still_go(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = server_in(tmp_path)
    with server.store.engine.begin() as connection:
        connection.execute(text("ALTER TABLE contacts RENAME TO contacts_away"))

    async def main() -> None:
        now = time.time()
        server.location.add(Contact("101", "sip:101@127.0.0.1:5070", now + 60, "101"), now)
        housekeeping = asyncio.create_task(server._housekeeping())
        try:
            assert await until(lambda: "writing to the database failed" in caplog.text, 5)
            with server.store.engine.begin() as connection:
                connection.execute(text("ALTER TABLE contacts_away RENAME TO contacts"))
            now = time.time()
            server.location.add(Contact("102", "sip:102@127.0.0.1:5072", now + 60, "102"), now)
            assert await until(lambda: [c.aor for c in server.store.load()] == ["102"], 5)
        finally:
            housekeeping.cancel()

    with caplog.at_level(logging.ERROR, logger="switchboard.app"):
        asyncio.run(main())
    server.executor.shutdown(wait=True)
