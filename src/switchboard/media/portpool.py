"""RTP port pool: even RTP ports with RTCP on the odd port above, from rtp.conf's range.

Ports are handed out round-robin: a freed pair goes to the back of the queue, so a port
is not reused at once (late packets of the last call must not reach the next one). Both
sockets of a pair are bound before the pair is handed out; a pair where either port is
taken by another program is skipped and tried again on a later pass. IPv4 and IPv6: the
family follows the bind host (``"::"`` binds IPv6, dual-stack where the system allows).

Calls take pairs with :meth:`PortPool.open`, which gives them with their datagram
transports, and hand them back with :meth:`PortPool.release`, which keeps them open
(*warm*) rather than closing them: the next call gets a bound socket with its transport
already on the event loop, and a call costs no ``socket``/``bind``/``close`` and no epoll
registration (about 40 system calls for the four sockets of a call). A warm pair sits
behind a parked protocol that drops whatever still arrives from the last call's phones
(what the kernel still holds for it is read and dropped when it is handed out), and is
handed out again, oldest first, only after ``quarantine`` seconds (sooner only
when no cold port is left). The caller puts fresh protocols, latches and statistics on the
transports it gets, so nothing of a previous call survives into the next. At most
``warm_limit`` pairs stay warm (two descriptors each); past that a released pair is closed
and its port goes back to the round-robin queue.
"""

from __future__ import annotations

import asyncio
import resource
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from switchboard.config.rtp import RtpConfig
from switchboard.media.errors import MediaError

QUARANTINE = 1.0
"""Seconds a released pair stays parked before another call may get it."""
_clock = time.monotonic
_DRAIN_LIMIT = 256


class PortPoolExhaustedError(MediaError):
    """No free RTP/RTCP port pair is left in the configured range."""


@dataclass(slots=True)
class PortPair:
    """A bound RTP socket on an even port and its RTCP socket on port + 1, with their
    datagram transports once :meth:`PortPool.open` has put them on the event loop."""

    port: int
    rtp: socket.socket
    rtcp: socket.socket
    rtp_transport: asyncio.DatagramTransport | None = None
    rtcp_transport: asyncio.DatagramTransport | None = None
    parked_at: float = 0.0
    uses: int = 0
    """Calls that had this pair (1 for a fresh one, more once reused warm)."""

    @property
    def rtcp_port(self) -> int:
        """The RTCP port (RFC 3550 §11: the next higher, odd, port)."""
        return self.port + 1

    @property
    def reusable(self) -> bool:
        """Both transports open, so the pair can be parked and handed out again."""
        rtp, rtcp = self.rtp_transport, self.rtcp_transport
        return (
            rtp is not None and rtcp is not None and not rtp.is_closing() and not rtcp.is_closing()
        )


class _Parked(asyncio.DatagramProtocol):
    """The protocol of a warm pair between calls: every datagram is dropped."""

    __slots__ = ()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        """A late packet of the last call: dropped."""

    def error_received(self, exc: Exception) -> None:
        """An ICMP error for the last call's phone: nothing to do."""


PARKED = _Parked()


def _parked() -> _Parked:
    return PARKED


def _drain(sock: socket.socket) -> None:
    """Drop what the kernel still holds for a parked socket (one ``recv`` when empty), so
    that a packet sent to the last call is not read by the next one's protocol."""
    for _ in range(_DRAIN_LIMIT):
        try:
            sock.recv(1)
        except OSError:  # BlockingIOError: nothing left
            return


def default_warm_limit(pairs: int) -> int:
    """Warm pairs to keep: the whole range, within an eighth of the open-file limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return pairs
    return max(0, min(pairs, soft // 8))


class PortPool:
    """Even RTP ports from ``rtpstart`` up to ``rtpend`` (RTCP inclusive), round-robin."""

    __slots__ = (
        "_free",
        "_in_use",
        "_warm",
        "family",
        "host",
        "quarantine",
        "rtpend",
        "rtpstart",
        "warm_limit",
    )

    def __init__(
        self,
        rtpstart: int,
        rtpend: int,
        host: str = "0.0.0.0",
        *,
        warm_limit: int | None = None,
        quarantine: float = QUARANTINE,
    ) -> None:
        """``host``: the address to bind (``"0.0.0.0"``, ``"::"`` or one interface);
        ``warm_limit``: released pairs kept open (default :func:`default_warm_limit`)."""
        start = rtpstart + (rtpstart % 2)
        if rtpend < start + 1:
            raise ValueError(f"RTP range {rtpstart}-{rtpend}: expected room for one port pair")
        self.rtpstart = start
        self.rtpend = rtpend
        self.host = host
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._free: deque[int] = deque(range(start, rtpend, 2))
        self._in_use: set[int] = set()
        self._warm: deque[PortPair] = deque()
        self.warm_limit = default_warm_limit(len(self._free)) if warm_limit is None else warm_limit
        self.quarantine = quarantine

    @classmethod
    def from_config(cls, config: RtpConfig, host: str = "0.0.0.0") -> PortPool:
        """A pool over rtp.conf's ``rtpstart``/``rtpend``."""
        return cls(config.rtpstart, config.rtpend, host)

    @property
    def available(self) -> int:
        """Pairs not handed out, warm or not (some may still be busy in other programs)."""
        return len(self._free) + len(self._warm)

    @property
    def in_use(self) -> int:
        """Pairs handed out and not yet released."""
        return len(self._in_use)

    @property
    def warm(self) -> int:
        """Released pairs kept open for the next calls."""
        return len(self._warm)

    async def open(self) -> PortPair:
        """A pair with both transports on the running loop (their protocol drops everything
        until the caller sets its own): a warm pair past its quarantine, else a newly
        bound one, else a warm pair still in quarantine; :class:`PortPoolExhaustedError`
        when none is left."""
        pair = self._take_warm(_clock() - self.quarantine)
        if pair is not None:
            return pair
        try:
            pair = self.allocate()
        except PortPoolExhaustedError:
            pair = self._take_warm(float("inf"))
            if pair is None:
                raise
            return pair
        loop = asyncio.get_running_loop()
        try:
            pair.rtp_transport, _ = await loop.create_datagram_endpoint(_parked, sock=pair.rtp)
            pair.rtcp_transport, _ = await loop.create_datagram_endpoint(_parked, sock=pair.rtcp)
        except BaseException:
            self._close(pair)
            self._in_use.discard(pair.port)
            self._free.append(pair.port)
            raise
        return pair

    def _take_warm(self, released_before: float) -> PortPair | None:
        """The oldest warm pair released before ``released_before``, if any."""
        warm = self._warm
        while warm and warm[0].parked_at <= released_before:
            pair = warm.popleft()
            if not pair.reusable:  # a transport failed while parked
                self._close(pair)
                self._free.append(pair.port)
                continue
            _drain(pair.rtp)
            _drain(pair.rtcp)
            pair.uses += 1
            self._in_use.add(pair.port)
            return pair
        return None

    def allocate(self) -> PortPair:
        """Bind the next free pair; :class:`PortPoolExhaustedError` when none can be bound."""
        busy = 0
        for _ in range(len(self._free)):
            port = self._free.popleft()
            pair = self._bind_pair(port)
            if pair is None:
                busy += 1
                self._free.append(port)
                continue
            self._in_use.add(port)
            return pair
        raise PortPoolExhaustedError(
            f"no free RTP port pair in rtpstart={self.rtpstart} rtpend={self.rtpend} "
            f"on {self.host}: {len(self._in_use)} pairs in use by calls, {busy} taken by "
            "other programs; widen the range in rtp.conf"
        )

    def release(self, pair: PortPair) -> None:
        """Park a pair with open transports among the warm ones (or, past ``warm_limit``
        and for a pair without transports, close both sockets) and put its port back."""
        if pair.reusable and len(self._warm) < self.warm_limit and pair.port in self._in_use:
            assert pair.rtp_transport is not None and pair.rtcp_transport is not None
            pair.rtp_transport.set_protocol(PARKED)
            pair.rtcp_transport.set_protocol(PARKED)
            pair.parked_at = _clock()
            self._in_use.remove(pair.port)
            self._warm.append(pair)
            return
        self._close(pair)
        if pair.port in self._in_use:
            self._in_use.remove(pair.port)
            self._free.append(pair.port)

    def close(self) -> None:
        """Close every warm pair (the server is stopping); their ports become free."""
        while self._warm:
            pair = self._warm.popleft()
            self._close(pair)
            self._free.append(pair.port)

    @staticmethod
    def _close(pair: PortPair) -> None:
        """Close the pair's transports (they let go of the sockets) and its sockets."""
        for transport in (pair.rtp_transport, pair.rtcp_transport):
            if transport is not None:
                transport.close()
        pair.rtp_transport = pair.rtcp_transport = None
        pair.rtp.close()
        pair.rtcp.close()

    def _bind_pair(self, port: int) -> PortPair | None:
        rtp = self._bind(port)
        if rtp is None:
            return None
        rtcp = self._bind(port + 1)
        if rtcp is None:
            rtp.close()
            return None
        return PortPair(port, rtp, rtcp, uses=1)

    def _bind(self, port: int) -> socket.socket | None:
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            if self.family == socket.AF_INET6 and self.host in ("::", ""):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.setblocking(False)
            sock.bind((self.host, port))
        except OSError:
            sock.close()
            return None
        return sock
