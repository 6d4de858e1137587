"""uvicorn's sans-I/O WebSocket protocol, made to offer the application a way to write
whole frames to the connection (the ASGI extension ``switchboard.wire``), so the event
fan-out can send one pre-built frame to every listener without a task per listener.

Only server-to-client data frames go this way, after the handshake, with no extension
negotiated (permessage-deflate is off); the handshake, pings and the close still go
through the protocol's own connection object, and each write is a whole frame, so the
two never interleave inside a frame.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

EXTENSION = "switchboard.wire"

MAX_BUFFERED = 256 * 1024
"""Bytes a listener may have waiting in its socket buffer before it loses events."""


class Wire:
    """Frame writes to one accepted WebSocket."""

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self.protocol = protocol

    def ready(self) -> bool:
        """Whether a frame may be written now: open, and not backed up."""
        protocol = self.protocol
        transport = protocol.transport
        return (
            protocol.handshake_complete
            and not protocol.close_sent
            and not protocol.disconnected
            and protocol.writable.is_set()
            and not transport.is_closing()
            and transport.get_write_buffer_size() < MAX_BUFFERED
        )

    def write(self, frame: bytes) -> None:
        self.protocol.transport.write(frame)


class WireProtocol(WebSocketsSansIOProtocol):
    """The WebSocket protocol the API's server runs: uvicorn's, plus ``switchboard.wire``."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope: Any = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:
            scope["extensions"][EXTENSION] = {"wire": Wire(self)}


def wire_of(scope: MutableMapping[str, Any]) -> Wire | None:
    """The connection's :class:`Wire`, when our protocol serves it."""
    extension = (scope.get("extensions") or {}).get(EXTENSION)
    wire = extension.get("wire") if isinstance(extension, dict) else None
    return wire if isinstance(wire, Wire) else None
