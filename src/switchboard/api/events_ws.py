"""Live domain events: one bus subscription fans every event out to the /api/events
WebSockets and the webhooks, so publishing never waits for a client.

Each event is serialized at most once per publish, and only when some listener wants its
type. WebSockets served by our uvicorn protocol (:mod:`switchboard.api.ws_protocol`) are
grouped by the event types they asked for: a group holds one batch of pre-built text
frames, joined once per flush, and the same bytes are written to each of its listeners'
transports in one call. A flush runs at once after a quiet spell, else ``FLUSH_INTERVAL``
after the previous one: no task wakes up per event, nothing is re-encoded or re-framed per
listener, and a listener costs the PBX one socket write per flush.
(Through the ASGI send path ten listeners cost 161 us of CPU per event, 13 % of a call's;
a write per event and listener still cost 100 us.)
The transport's buffer is that listener's bounded queue: while it is over its limit the
listener loses events (counted). Webhooks (and WebSockets under another server) get a
bounded queue each, drained by their own task, with the same drop-and-count rule.
"""

from __future__ import annotations

import asyncio
import json
import json.encoder
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from switchboard.api.sessions import same_origin, session_of
from switchboard.api.tokens import bearer_token, token_name
from switchboard.api.ws_protocol import wire_of
from switchboard.core.events import Event, EventBus

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
"""Events a queued listener (a webhook) may fall behind by before it loses some."""

FLUSH_INTERVAL = 0.025
"""Seconds between two writes to a listener while events keep coming: the most latency
batching adds (a quarter of the 100 ms a CRM is promised), for at most 40 writes a second
per listener however busy the PBX is (bench/api_overhead.py)."""


def event_kinds() -> frozenset[str]:
    """The names of every event class loaded (what ``?types=`` and webhooks may name)."""
    found: set[str] = set()
    pending = list(Event.__subclasses__())
    while pending:
        kind = pending.pop()
        found.add(kind.__name__)
        pending += kind.__subclasses__()
    return frozenset(found)


class Feed:
    """One listener: the event types it wants (None: all) and its queue of (type, JSON)."""

    def __init__(self, kinds: frozenset[str] | None, size: int, role: str) -> None:
        self.kinds = kinds
        self.role = role
        """``websocket`` or ``webhook``, for the metrics."""
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(size)
        self.dropped = 0


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


class FrameSink(Protocol):
    """Where a WebSocket listener's frames are written (:class:`ws_protocol.Wire`)."""

    def ready(self) -> bool: ...

    def write(self, frame: bytes) -> None: ...


class WireFeed:
    """A WebSocket listener written whole frames (see :mod:`switchboard.api.ws_protocol`)."""

    def __init__(self, kinds: frozenset[str] | None, wire: FrameSink) -> None:
        self.kinds = kinds
        self.wire = wire
        self.role = "websocket"
        self.dropped = 0
        self.skip = 0
        """Frames of its group's pending batch published before it was attached."""


class WireGroup:
    """The WebSocket listeners that asked for the same event types: one batch of frames
    for all of them, joined once per flush, the same bytes written to each (a server's
    frames are unmasked, so they are identical for every listener)."""

    def __init__(self, kinds: frozenset[str] | None) -> None:
        self.kinds = kinds
        self.feeds: tuple[WireFeed, ...] = ()
        self.batch: list[bytes] = []


def _make_encoder() -> Callable[[dict[str, object]], str]:
    """``json.dumps`` for an event's flat dict, with the C encoder built once rather than
    per call (two thirds of ``json.dumps``' time on a small dict); plain ``json.dumps``
    where the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.dumps
    encoder = make(
        None,
        json.JSONEncoder().default,
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )

    def encode(data: dict[str, object]) -> str:
        return "".join(encoder(data, 0))

    return encode


_encode = _make_encoder()


def event_json(event: Event) -> str:
    """The event as the listeners get it: exactly ``json.dumps(event.as_dict())``."""
    return _encode(event.as_dict())


class EventFanout:
    """The one bus subscriber behind every live listener."""

    def __init__(self, bus: EventBus, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self.feeds: list[Feed | WireFeed] = []
        self.dropped = 0
        """Events lost by listeners that fell behind, since start-up."""
        self._queued: tuple[Feed, ...] = ()
        self._groups: tuple[WireGroup, ...] = ()
        self.unsubscribe = bus.subscribe(self._on_event)
        self._flush_armed = False
        self._last_flush = 0.0

    def attach(self, kinds: Iterable[str] | None = None, role: str = "websocket") -> Feed:
        feed = Feed(frozenset(kinds) if kinds is not None else None, self.queue_size, role)
        self.feeds = [*self.feeds, feed]
        self._queued = (*self._queued, feed)
        return feed

    def attach_wire(self, wire: FrameSink, kinds: Iterable[str] | None = None) -> WireFeed:
        feed = WireFeed(frozenset(kinds) if kinds is not None else None, wire)
        group = next((g for g in self._groups if g.kinds == feed.kinds), None)
        if group is None:
            group = WireGroup(feed.kinds)
            self._groups = (*self._groups, group)
        feed.skip = len(group.batch)
        group.feeds = (*group.feeds, feed)
        self.feeds = [*self.feeds, feed]
        return feed

    def detach(self, feed: Feed | WireFeed) -> None:
        self.feeds = [f for f in self.feeds if f is not feed]
        self._queued = tuple(f for f in self._queued if f is not feed)
        for group in self._groups:
            group.feeds = tuple(f for f in group.feeds if f is not feed)
        self._groups = tuple(g for g in self._groups if g.feeds)

    def _on_event(self, event: Event) -> None:
        groups, queued = self._groups, self._queued
        if not groups and not queued:
            return
        kind = event.kind
        text: str | None = None
        frame: bytes | None = None
        for group in groups:
            if group.kinds is not None and kind not in group.kinds:
                continue
            if frame is None:
                text = event_json(event)
                frame = text_frame(text.encode())
            group.batch.append(frame)
        if frame is not None and not self._flush_armed:
            self._arm()
        for feed in queued:
            if feed.kinds is not None and kind not in feed.kinds:
                continue
            if feed.queue.full():
                feed.dropped += 1
                self.dropped += 1
                continue
            if text is None:
                text = event_json(event)
            feed.queue.put_nowait((kind, text))

    def _arm(self) -> None:
        """Flush at the next loop iteration after a quiet spell, else ``FLUSH_INTERVAL``
        after the last flush: a lone event goes out at once, a busy PBX writes each
        listener at most once per interval."""
        self._flush_armed = True
        loop = asyncio.get_running_loop()
        delay = self._last_flush + FLUSH_INTERVAL - loop.time()
        if delay > 0:
            loop.call_later(delay, self.flush)
        else:
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write each group's batch, joined once, to each of its WebSockets; a backed-up
        listener loses the batch (counted)."""
        self._flush_armed = False
        self._last_flush = asyncio.get_running_loop().time()
        for group in self._groups:
            batch = group.batch
            if not batch:
                continue
            group.batch = []
            data = b"".join(batch)
            for feed in group.feeds:
                skip, feed.skip = feed.skip, 0
                if not feed.wire.ready():
                    feed.dropped += len(batch) - skip
                    self.dropped += len(batch) - skip
                elif skip == 0:
                    feed.wire.write(data)
                elif skip < len(batch):
                    feed.wire.write(b"".join(batch[skip:]))


router = APIRouter()


def _requested_kinds(types: str | None) -> tuple[frozenset[str] | None, str]:
    """The ``?types=`` filter, or an error message naming the unknown types."""
    if not types:
        return None, ""
    wanted = frozenset(t.strip() for t in types.split(",") if t.strip())
    unknown = sorted(wanted - event_kinds())
    if unknown:
        return None, f"unknown event types: {', '.join(unknown)}"
    return wanted, ""


@router.websocket("/api/events")
async def events(websocket: WebSocket, token: str | None = None, types: str | None = None) -> None:
    """Stream domain events as JSON text frames (``{"type": "CallRinging", ...}``);
    ``?types=A,B`` keeps only those; the token comes as ``?token=`` or a Bearer header."""
    context = websocket.app.state.context
    given = token or bearer_token(websocket.headers.get("authorization"))
    if token_name(context.tokens, given) is None and not _console_admin(websocket):
        await websocket.send_denial_response(
            JSONResponse({"error": "a valid API token is required (?token= or Bearer)"}, 401)
        )
        return
    kinds, problem = _requested_kinds(types)
    if problem:
        await websocket.send_denial_response(JSONResponse({"error": problem}, 400))
        return
    fanout: EventFanout = context.fanout
    wire = wire_of(websocket.scope)
    if wire is not None:
        await websocket.accept()
        wire_feed = fanout.attach_wire(wire, kinds)
        try:
            await _drain(websocket)
        finally:
            fanout.detach(wire_feed)
        return
    feed = fanout.attach(kinds)
    try:
        await websocket.accept()
        sender = asyncio.create_task(_pump(websocket, feed))
        receiver = asyncio.create_task(_drain(websocket))
        done, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and isinstance(task.exception(), Exception):
                log.debug("event listener ended: %s", task.exception())
    finally:
        fanout.detach(feed)


def _console_admin(websocket: WebSocket) -> bool:
    """An admin's console session, opened from this server's own pages."""
    session = session_of(websocket)
    return session is not None and session.role == "admin" and same_origin(websocket)


async def _pump(websocket: WebSocket, feed: Feed) -> None:
    """Send what the feed holds: after each wake-up, everything queued meanwhile."""
    queue = feed.queue
    while True:
        _kind, text = await queue.get()
        await websocket.send_text(text)
        while not queue.empty():
            _kind, text = queue.get_nowait()
            await websocket.send_text(text)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, until it goes away."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except WebSocketDisconnect:
        return
