"""The TCP and TLS adapter: one framer per connection, connections kept by id so requests to
a phone go back over the connection it registered on (RFC 5626 keep-alives answered)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING, cast

from switchboard.sip.errors import RemoteProtocolError
from switchboard.sip.framing import PONG, KeepAliveReceived, SipStreamFramer
from switchboard.sip.message import error_response
from switchboard.sip.peer import Peer, TransportName

if TYPE_CHECKING:
    from switchboard.transport.stack import SipStack

log = logging.getLogger(__name__)
_ids = itertools.count(1)


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection: bytes to messages through the pure framer."""

    def __init__(self, stack: SipStack, transport_name: TransportName) -> None:
        self.stack = stack
        self.name: TransportName = transport_name
        self.id = next(_ids)
        self.framer = SipStreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = Peer(self.name, str(host), int(port), self.id)
        if not self.stack.attach(self, self.peer.host):
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.stack.detach(self, self.peer.host)

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None
        self.framer.feed(data)
        while True:
            try:
                event = self.framer.next_event()
            except RemoteProtocolError as error:
                self._reject(error)
                if self.framer.broken:
                    self.close()
                    return
                continue
            if event is None:
                return
            if isinstance(event, KeepAliveReceived):
                self.send(PONG)
                continue
            self.stack.message_received(event, self.peer)

    def _reject(self, error: RemoteProtocolError) -> None:
        assert self.peer is not None
        self.stack.stream_rejected(error, self.peer)
        response = error_response(error)
        if response is not None:
            self.send(response.serialize())
        log.info("malformed message on %s: %s", self.peer, error)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
