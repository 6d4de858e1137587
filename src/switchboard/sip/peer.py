"""Where a SIP message came from or goes to: transport, address, and stream connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TransportName = Literal["udp", "tcp", "tls", "ws", "wss"]


@dataclass(frozen=True, init=False, slots=True)
class Peer:
    """A remote transport address; ``connection_id`` lets a stream transport reuse its socket."""

    transport: TransportName
    host: str
    port: int
    connection_id: int | None = None

    def __init__(
        self,
        transport: TransportName,
        host: str,
        port: int,
        connection_id: int | None = None,
    ) -> None:
        object.__setattr__(self, "transport", transport)
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "connection_id", connection_id)

    def __str__(self) -> str:
        """``udp:192.0.2.1:5060`` (IPv6 in brackets), for events and logs."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"

    @property
    def reliable(self) -> bool:
        """Whether the transport delivers in order without loss (no retransmission timers)."""
        return self.transport != "udp"
