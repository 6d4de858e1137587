"""The UDP adapter: datagrams in and out of one bound socket; everything else is the stack's."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from switchboard.sip.peer import Peer

if TYPE_CHECKING:
    from switchboard.transport.stack import SipStack


class UdpTransport(asyncio.DatagramProtocol):
    """One UDP socket: hands each datagram to the stack, sends what the stack asks."""

    def __init__(self, stack: SipStack) -> None:
        self.stack = stack
        self.transport: asyncio.DatagramTransport | None = None
        self._local: tuple[str, int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        name = self.transport.get_extra_info("sockname")
        self._local = str(name[0]), int(name[1])

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        """A banned source's datagram is dropped here, before anything is built for it: a
        scan that goes on after its ban costs one dictionary lookup per datagram."""
        stack = self.stack
        host = str(addr[0])
        if stack.admits(host, stack.loop.time()):
            stack.datagram_received(data, Peer("udp", host, int(addr[1])), self)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors (port unreachable) surface here; UDP has no connection to close."""

    def send(self, data: bytes, peer: Peer) -> None:
        if self.transport is not None:
            self.transport.sendto(data, (peer.host, peer.port))

    @property
    def local(self) -> tuple[str, int]:
        """The bound address, read once: the stack asks for it on every send."""
        assert self._local is not None
        return self._local
