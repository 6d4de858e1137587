"""Live domain events: one bus subscription fans every event out to bounded per-listener
queues (the /api/events WebSockets, the webhooks), so publishing never waits for a client.

Each event is serialized at most once per publish, and only when some listener wants its
type; a listener whose queue is full loses the event (counted) rather than slowing the
publisher, which is the call engine itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from switchboard.api.sessions import same_origin, session_of
from switchboard.api.tokens import bearer_token, token_name
from switchboard.core.events import Event, EventBus

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000
"""Events a listener may fall behind by before it loses some."""


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


class EventFanout:
    """The one bus subscriber behind every live listener."""

    def __init__(self, bus: EventBus, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self.feeds: list[Feed] = []
        self.dropped = 0
        """Events lost by listeners that fell behind, since start-up."""
        self.unsubscribe = bus.subscribe(self._on_event)

    def attach(self, kinds: Iterable[str] | None = None, role: str = "websocket") -> Feed:
        feed = Feed(frozenset(kinds) if kinds is not None else None, self.queue_size, role)
        self.feeds = [*self.feeds, feed]
        return feed

    def detach(self, feed: Feed) -> None:
        self.feeds = [f for f in self.feeds if f is not feed]

    def _on_event(self, event: Event) -> None:
        feeds = self.feeds
        if not feeds:
            return
        kind = event.kind
        text: str | None = None
        for feed in feeds:
            if feed.kinds is not None and kind not in feed.kinds:
                continue
            if feed.queue.full():
                feed.dropped += 1
                self.dropped += 1
                continue
            if text is None:
                text = json.dumps(event.as_dict())
            feed.queue.put_nowait((kind, text))


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
    while True:
        _kind, text = await feed.queue.get()
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
