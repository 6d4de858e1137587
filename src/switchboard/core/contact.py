"""A registered contact: the binding of a device's address to an AOR, until it expires."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Contact:
    """One registered binding of an AOR (Asterisk's "contact" object)."""

    aor: str
    uri: str
    expires_at: float
    endpoint: str
    call_id: str = ""
    cseq: int = 0
    user_agent: str = ""
    transport: str = "udp"
    source_host: str = ""
    source_port: int = 0
    connection: int = 0
    path: str = ""
    registered_at: float = 0.0

    def remaining(self, now: float) -> int:
        """Whole seconds left, as the registrar reports them in ``expires=``."""
        return max(0, int(self.expires_at - now))
