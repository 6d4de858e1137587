"""The event WebSocket as uvicorn serves it in the PBX (our WireProtocol): the bytes a
client reads are RFC 6455 text frames, one per event, the same for every listener."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import secrets
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI

from switchboard.api import events_ws
from switchboard.api.fanout import EventFanout
from switchboard.api.http import HttpServer
from switchboard.config.http import default_http
from switchboard.core.events import EventBus
from switchboard.services.calls.events import CallEnded, CallRinging, CallStarted
from switchboard.store.contacts import sqlite_engine
from switchboard.store.tokens import SqlTokenStore
from tests.unit.api.websocket_frames import rfc6455_text, texts

TIMEOUT = 10.0


async def open_websocket(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw client: the opening handshake by hand, then the bytes as they come."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return reader, writer


async def until(condition, what: str) -> None:
    """Poll ``condition`` on the loop, for at most TIMEOUT seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


@pytest.mark.asyncio
async def test_every_listener_reads_the_same_rfc6455_frames(tmp_path: Path) -> None:
    bus = EventBus()
    fanout = EventFanout(bus)
    tokens = SqlTokenStore(sqlite_engine(str(tmp_path / "state.db")))
    token = tokens.create("test")
    app = FastAPI()
    app.include_router(events_ws.router)
    app.state.context = SimpleNamespace(tokens=tokens, fanout=fanout)
    server = HttpServer(app, dataclasses.replace(default_http(), enabled=True, bindport=0))
    await server.start()
    clients = []
    try:
        for query in ("", "", "types=CallEnded&"):
            clients.append(await open_websocket(server.port, f"/api/events?{query}token={token}"))
        await until(lambda: len(fanout.feeds) == 3, "three listeners")
        events = [
            CallStarted("1764280000.7", "PJSIP/bob-00000007", "bob", "101", "internal"),
            CallRinging("1.7", "PJSIP/a-8", "bob", "Bob \u00e9"),
            CallEnded("1764280000.7", "PJSIP/bob-00000007", 16, "ANSWERED", 5, 4),
        ]
        for event in events:
            bus.publish(event)
        frames = [rfc6455_text(json.dumps(event.as_dict())) for event in events]
        assert frames[0][1] == 126 and frames[1][1] < 126  # both length forms
        everything, ended = b"".join(frames), frames[2]
        for (reader, _), expected in zip(clients, (everything, everything, ended), strict=True):
            assert await asyncio.wait_for(reader.readexactly(len(expected)), TIMEOUT) == expected
        assert "\\u00e9" in texts(everything)[1]  # JSON as json.dumps writes it: ASCII only
    finally:
        for _, writer in clients:
            writer.close()
        await until(lambda: not fanout.feeds, "the listeners to be detached")
        await server.close()
