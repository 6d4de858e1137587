"""RTP port pool: even RTP ports with RTCP on the odd port above, from rtp.conf's range.

Ports are handed out round-robin: a freed pair goes to the back of the queue, so a port
is not reused at once (late packets of the last call must not reach the next one). Both
sockets of a pair are bound before the pair is handed out; a pair where either port is
taken by another program is skipped and tried again on a later pass. IPv4 and IPv6: the
family follows the bind host (``"::"`` binds IPv6, dual-stack where the system allows).
"""

from __future__ import annotations

import socket
from collections import deque
from dataclasses import dataclass

from switchboard.config.rtp import RtpConfig
from switchboard.media.errors import MediaError


class PortPoolExhaustedError(MediaError):
    """No free RTP/RTCP port pair is left in the configured range."""


@dataclass(slots=True)
class PortPair:
    """A bound RTP socket on an even port and its RTCP socket on port + 1."""

    port: int
    rtp: socket.socket
    rtcp: socket.socket

    @property
    def rtcp_port(self) -> int:
        """The RTCP port (RFC 3550 §11: the next higher, odd, port)."""
        return self.port + 1


class PortPool:
    """Even RTP ports from ``rtpstart`` up to ``rtpend`` (RTCP inclusive), round-robin."""

    __slots__ = ("_free", "_in_use", "family", "host", "rtpend", "rtpstart")

    def __init__(self, rtpstart: int, rtpend: int, host: str = "0.0.0.0") -> None:
        """``host``: the address to bind (``"0.0.0.0"``, ``"::"`` or one interface)."""
        start = rtpstart + (rtpstart % 2)
        if rtpend < start + 1:
            raise ValueError(f"RTP range {rtpstart}-{rtpend}: expected room for one port pair")
        self.rtpstart = start
        self.rtpend = rtpend
        self.host = host
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._free: deque[int] = deque(range(start, rtpend, 2))
        self._in_use: set[int] = set()

    @classmethod
    def from_config(cls, config: RtpConfig, host: str = "0.0.0.0") -> PortPool:
        """A pool over rtp.conf's ``rtpstart``/``rtpend``."""
        return cls(config.rtpstart, config.rtpend, host)

    @property
    def available(self) -> int:
        """Pairs not handed out (some may still be busy in other programs)."""
        return len(self._free)

    @property
    def in_use(self) -> int:
        """Pairs handed out and not yet released."""
        return len(self._in_use)

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
        """Close both sockets and put the port at the back of the queue."""
        pair.rtp.close()
        pair.rtcp.close()
        if pair.port in self._in_use:
            self._in_use.remove(pair.port)
            self._free.append(pair.port)

    def _bind_pair(self, port: int) -> PortPair | None:
        rtp = self._bind(port)
        if rtp is None:
            return None
        rtcp = self._bind(port + 1)
        if rtcp is None:
            rtp.close()
            return None
        return PortPair(port, rtp, rtcp)

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
