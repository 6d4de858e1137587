"""The /api/events WebSocket route: checks the caller, then attaches the connection to the
event fan-out (:mod:`switchboard.api.fanout`), as a wire written whole frames when our
uvicorn protocol serves it, else as a queued listener with a task sending its events."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from switchboard.api.fanout import EventFanout, Feed, event_kinds
from switchboard.api.sessions import same_origin, session_of
from switchboard.api.tokens import bearer_token, token_name
from switchboard.api.ws_protocol import wire_of

log = logging.getLogger(__name__)

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
