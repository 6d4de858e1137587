"""The UDP adapter: datagrams in and out of one bound socket; everything else is the stack's."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING, cast

from switchboard.sip.peer import Peer

MAX_PEERS = 65536
"""Source addresses whose Peer is kept for reuse (then the table starts afresh)."""

RECEIVE_BUFFER = 4 << 20
"""Bytes of socket receive buffer asked for (the kernel caps it at ``net.core.rmem_max``).
Linux's default, 208 KiB, holds only a few hundred datagrams, so a burst arriving during
a 10 ms pause of the loop overflowed it: at 2,500 registrations/s the server's socket
dropped tens of requests per 15 s, each answered only after the phone's retransmission
500 ms later."""

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from switchboard.transport.stack import SipStack


class UdpTransport(asyncio.DatagramProtocol):
    """One UDP socket: hands each datagram to the stack, sends what the stack asks."""

    def __init__(self, stack: SipStack) -> None:
        self.stack = stack
        self.transport: asyncio.DatagramTransport | None = None
        self._local: tuple[str, int] | None = None
        self._peers: dict[object, Peer] = {}
        """Peer by source address: a phone sends from the same one every time."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        name = self.transport.get_extra_info("sockname")
        self._local = str(name[0]), int(name[1])
        sock = self.transport.get_extra_info("socket")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except OSError as error:
            log.warning("UDP %s:%d: receive buffer left at its default: %s", *self._local, error)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        """A banned source's datagram is dropped here, before anything is built for it: a
        scan that goes on after its ban costs one dictionary lookup per datagram."""
        stack = self.stack
        peer = self._peers.get(addr)
        if peer is None:
            if len(self._peers) >= MAX_PEERS:
                self._peers.clear()
            peer = self._peers[addr] = Peer("udp", str(addr[0]), int(addr[1]))
        now = stack.loop.time()
        if stack.admits(peer.host, now):
            stack.datagram_received(data, peer, self, now)

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
