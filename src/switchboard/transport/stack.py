"""The SIP stack adapter: sockets on one side, the pure transaction layer on the other.

Like aioquic's protocol adapter: every input (a datagram, a framed message, a timer) is fed
to the pure layer with ``loop.time()``, then :meth:`SipStack._pump` drains what the layer
wants sent, hands its events to the transaction user, and re-arms a single timer.
Malformed requests are answered statelessly here (400, 416, 505, ...), unparseable bytes
and responses are dropped: nothing a peer sends can raise out of the stack.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from switchboard.sip.errors import RemoteProtocolError
from switchboard.sip.message import (
    SipRequest,
    SipResponse,
    error_response,
    make_response,
    parse_datagram,
)
from switchboard.sip.nat import stamp_via
from switchboard.sip.peer import Peer, TransportName
from switchboard.sip.transaction.events import Event as TransactionEvent
from switchboard.sip.transaction.events import TransactionKey
from switchboard.sip.transaction.layer import TransactionLayer
from switchboard.transport.stream import StreamConnection
from switchboard.transport.udp import UdpTransport

log = logging.getLogger(__name__)

TransactionUser = Callable[[TransactionEvent], None]
Admission = Callable[[str, float], bool]
"""(source host, now) -> whether its messages are handled at all (False while banned)."""
OffenceReport = Callable[[str, str, float], None]
"""(source host, what was wrong, now): a malformed message, for the security service."""
Prefilter = Callable[[SipRequest, Peer], SipResponse | bool]
"""A request the user can settle before any transaction exists: the response to send
statelessly, True to drop it, or False to go through the transaction layer."""

Trace = Callable[[bool, bytes, Peer], None]
"""(outgoing, the message's bytes, the peer): every message in and out (SIP trace)."""

TRANSACTIONS_RETRY_AFTER = 5
"""Seconds a source over its transaction limit is asked to wait (Retry-After)."""

TIMER_TICK = 0.01
"""Seconds: transaction timers fire on multiples of this, at most this late."""


@dataclass(frozen=True, slots=True)
class Listener:
    """What one configured transport is bound to, once it is listening."""

    name: str
    protocol: TransportName
    host: str
    port: int


class SipStack:
    """Owns the listening sockets, the open connections and the transaction layer."""

    def __init__(self, layer: TransactionLayer, loop: asyncio.AbstractEventLoop) -> None:
        self.layer = layer
        self.loop = loop
        self.user: TransactionUser | None = None
        self.admits: Admission = lambda _host, _now: True
        self.max_connections = 32
        self.max_transactions = 500
        """Live server transactions one untrusted address may hold; past it, new requests
        get 503 with Retry-After, statelessly."""
        self.trusted: Callable[[str], bool] = lambda _host: False
        """Open TCP/TLS connections allowed from one address; more are closed at once."""
        self.offence: OffenceReport = lambda _host, _detail, _now: None
        self.prefilter: Prefilter = lambda _request, _peer: False
        self.trace: Trace | None = None
        self.messages: dict[tuple[str, str], int] = {}
        """SIP messages by (``in``/``out``, method or status code), retransmissions and
        stateless answers included: the counters ``/metrics`` shows."""
        """Set while ``pjsip set logger on``: sees every message (one test when unset)."""
        self.udp: list[UdpTransport] = []
        self._udp_by_family: dict[bool, UdpTransport] = {}
        """The first UDP socket of each family (IPv6: True), which answers go out of."""
        self.servers: list[asyncio.Server] = []
        self.connections: dict[int, StreamConnection] = {}
        self._per_host: Counter[str] = Counter()
        self.listeners: list[Listener] = []
        self.tls_contexts: dict[str, ssl.SSLContext] = {}
        """The TLS listeners' contexts by transport name (a reload puts new certificates in)."""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._pumping = False
        self._after: list[Callable[[], None]] = []

    async def listen_udp(self, name: str, host: str, port: int) -> Listener:
        _, protocol = await self.loop.create_datagram_endpoint(
            lambda: UdpTransport(self), local_addr=(host, port)
        )
        self.udp.append(protocol)
        bound_host, bound_port = protocol.local
        self._udp_by_family.setdefault(":" in bound_host, protocol)
        listener = Listener(name, "udp", bound_host, bound_port)
        self.listeners.append(listener)
        return listener

    async def listen_stream(
        self,
        name: str,
        protocol: TransportName,
        host: str,
        port: int,
        context: ssl.SSLContext | None = None,
    ) -> Listener:
        server = await self.loop.create_server(
            lambda: StreamConnection(self, protocol), host, port, ssl=context
        )
        self.servers.append(server)
        if context is not None:
            self.tls_contexts[name] = context
        # uvloop's Server.sockets is a list where the stubs say tuple: read it untyped,
        # or the compiled module's tuple check refuses it.
        sockname = cast(Any, server).sockets[0].getsockname()
        listener = Listener(name, protocol, str(sockname[0]), int(sockname[1]))
        self.listeners.append(listener)
        return listener

    def local_address(self, protocol: str) -> tuple[str, int] | None:
        """Where we listen for ``protocol``: what Via and From of our own requests name."""
        for listener in self.listeners:
            if listener.protocol == protocol:
                return listener.host, listener.port
        return None

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for udp in self.udp:
            if udp.transport is not None:
                udp.transport.close()
        for connection in list(self.connections.values()):
            connection.close()
        for server in self.servers:
            server.close()
            await server.wait_closed()

    # -- input -------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, peer: Peer, udp: UdpTransport, now: float) -> None:
        """A UDP datagram from an admitted source (the adapter drops a banned source's, so
        scanners learn nothing), received at loop time ``now``: parse, answer malformed
        requests statelessly, else feed the layer."""
        if data in (b"\r\n\r\n", b"\r\n"):
            return
        if self.trace is not None:
            self.trace(False, data, peer)
        try:
            message = parse_datagram(data)
        except RemoteProtocolError as error:
            self._reject(error, peer, lambda out: self._send_from(udp, out, peer))
            return
        self._handle(message, peer, now)

    def message_received(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        """A complete message from a stream; a banned source gets 403 and the connection
        is closed."""
        now = self.loop.time()
        if self.trace is not None:
            self.trace(False, message.serialize(), peer)
        if not self.admits(peer.host, now):
            connection = self.connections.get(peer.connection_id or 0)
            if isinstance(message, SipRequest) and message.method != "ACK":
                self._send(
                    make_response(message, 403, to_tag=secrets.token_hex(4)).serialize(), peer
                )
            if connection is not None:
                connection.close()
            return
        self._handle(message, peer, now)

    def stream_rejected(self, error: RemoteProtocolError, peer: Peer) -> None:
        """A stream message the framer refused: count it like a malformed datagram."""
        self.offence(peer.host, f"malformed message: {error.reason}", self.loop.time())

    def _handle(self, message: SipRequest | SipResponse, peer: Peer, now: float) -> None:
        messages = self.messages
        if isinstance(message, SipRequest):
            key = ("in", message.method)
            messages[key] = messages.get(key, 0) + 1
            try:
                message.validate()
            except RemoteProtocolError as error:
                self._reject(error, peer, lambda out: self._send(out, peer))
                return
            stamp_via(message, peer.host, peer.port)
            settled = self.prefilter(message, peer)
            if settled is not False:
                if isinstance(settled, SipResponse):
                    self._send(settled.serialize(), peer)
                return
            if (
                self.layer.servers_per_host.get(peer.host, 0) >= self.max_transactions
                and message.method not in ("ACK", "CANCEL")
                and not self.layer.has_server(message)
                and not self.trusted(peer.host)
            ):
                self._busy(message, peer)
                return
        else:
            key = ("in", str(message.status))
            messages[key] = messages.get(key, 0) + 1
            try:
                message.validate()
            except RemoteProtocolError:
                log.debug("malformed response from %s dropped", peer)
                return
        self.layer.receive(message, peer, now)
        self._pump()

    def _busy(self, request: SipRequest, peer: Peer) -> None:
        """503 for a request over the per-source transaction limit (RFC 3261 §21.5.4)."""
        response = make_response(request, 503, to_tag=secrets.token_hex(4))
        response.headers.add("Retry-After", str(TRANSACTIONS_RETRY_AFTER))
        self._send(response.serialize(), peer)
        log.info(
            "%s has %d transactions open; %s answered 503",
            peer.host,
            self.max_transactions,
            request.method,
        )

    def _reject(
        self, error: RemoteProtocolError, peer: Peer, send: Callable[[bytes], None]
    ) -> None:
        self.offence(peer.host, f"malformed message: {error.reason}", self.loop.time())
        response = error_response(error, to_tag=secrets.token_hex(4))
        if response is not None:
            send(response.serialize())
        log.debug("malformed message: %s", error)

    # -- output ------------------------------------------------------------------------------

    def send_response(self, key: TransactionKey, response: SipResponse) -> None:
        self.layer.send_response(key, response, self.loop.time())
        if not self._pumping:
            self._pump()

    def send_request(self, request: SipRequest, peer: Peer) -> TransactionKey:
        key = self.layer.send_request(request, peer, self.loop.time())
        if not self._pumping:
            self._pump()
        return key

    def flush(self) -> None:
        """Send what a command outside any event queued in the layer (a call hung up by
        the dialplan, a Dial starting), and re-arm the timer; inside an event, the pump
        that delivers it does this."""
        if not self._pumping:
            self._pump()

    def _send_from(self, udp: UdpTransport, data: bytes, peer: Peer) -> None:
        """A stateless answer from the socket the request came in on."""
        self._count_out(data)
        if self.trace is not None:
            self.trace(True, data, peer)
        udp.send(data, peer)

    def _count_out(self, data: bytes) -> None:
        """Count a message sent, by status code (``SIP/2.0 200 ...``) or method."""
        if data[:4] == b"SIP/":
            what = data[8:11]
        else:
            space = data.find(b" ", 0, 32)
            if space < 0:
                return
            what = data[:space]
        key = ("out", what.decode("ascii", "replace"))
        self.messages[key] = self.messages.get(key, 0) + 1

    def _send(self, data: bytes, peer: Peer) -> None:
        self._count_out(data)
        if self.trace is not None:
            self.trace(True, data, peer)
        if peer.transport == "udp":
            udp = self._udp_for(peer.host)
            if udp is not None:
                udp.send(data, peer)
            return
        connection = self.connections.get(peer.connection_id or 0)
        if connection is None:
            connection = self._find_connection(peer)
        if connection is not None:
            connection.send(data)
        else:
            log.info("no open %s connection to %s:%d; message dropped", *peer_parts(peer))

    def attach(self, connection: StreamConnection, host: str) -> bool:
        """Register a new connection; False (close it) when its address is banned or has
        ``max_connections`` open already."""
        if not self.admits(host, self.loop.time()):
            return False
        if self._per_host[host] >= self.max_connections:
            return False
        self._per_host[host] += 1
        self.connections[connection.id] = connection
        return True

    def detach(self, connection: StreamConnection, host: str) -> None:
        if self.connections.pop(connection.id, None) is not None:
            self._per_host[host] -= 1
            if not self._per_host[host]:
                del self._per_host[host]

    def _udp_for(self, host: str) -> UdpTransport | None:
        udp = self._udp_by_family.get(":" in host)
        if udp is None and self.udp:
            return self.udp[0]
        return udp

    def _find_connection(self, peer: Peer) -> StreamConnection | None:
        for connection in self.connections.values():
            other = connection.peer
            if other is not None and (other.transport, other.host, other.port) == (
                peer.transport,
                peer.host,
                peer.port,
            ):
                return connection
        return None

    def _pump(self) -> None:
        """Send what the layer queued, deliver its events, and re-arm the one timer.

        The transaction user answers from inside its event handler; those calls only queue
        in the layer, and this loop sends the result, so nothing recurses.
        """
        user = self.user
        self._pumping = True
        try:
            while (event := self.layer.next_event()) is not None:
                if user is not None:
                    try:
                        user(event)
                    except Exception:
                        log.exception("transaction user failed on %s", type(event).__name__)
        finally:
            self._pumping = False
        for data, peer in self.layer.datagrams_to_send():
            self._send(data, peer)
        if self._after:
            callbacks, self._after = self._after, []
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("callback after sending failed")
        deadline = self.layer.next_deadline()
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._timer_at = None
        elif self._timer_at is None or deadline < self._timer_at:
            # Round up to the timer tick, so that the timers of many transactions (Timer J
            # ends thousands a second under load) share one wake-up instead of one each.
            wake_at = math.ceil(deadline / TIMER_TICK) * TIMER_TICK
            if wake_at != self._timer_at:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = self.loop.call_at(wake_at, self._on_timer)
                self._timer_at = wake_at

    def after_sending(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once what the message being handled caused has been sent (at
        once outside any message): a NOTIFY that must follow the 200 of the REGISTER that
        caused it, before the next datagram is even read."""
        if self._pumping:
            self._after.append(callback)
        else:
            callback()

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.layer.handle_timer(self.loop.time())
        self._pump()


def peer_parts(peer: Peer) -> tuple[str, str, int]:
    return peer.transport, peer.host, peer.port
