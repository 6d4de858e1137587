"""Qualify: OPTIONS to each registered contact of an AOR with ``qualify_frequency``, and the
contact marked reachable (with its round-trip time) or unreachable after ``qualify_timeout``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.config.pjsip import PjsipConfig
from switchboard.core.contact import Contact
from switchboard.core.events import Event, EventBus
from switchboard.services.location import LocationService
from switchboard.sip.headers import SipHeaders
from switchboard.sip.message import SipRequest, SipResponse
from switchboard.sip.peer import Peer, TransportName
from switchboard.sip.transaction.events import TransactionKey

SendRequest = Callable[[SipRequest, Peer], TransactionKey]
LocalAddress = Callable[[str], tuple[str, int] | None]
"""Our listening address for a transport name (``udp``, ``tcp``, ``tls``), if any."""


@dataclass(frozen=True, slots=True)
class ContactStatusChanged(Event):
    aor: str
    uri: str
    status: str
    rtt_ms: float | None


@dataclass(slots=True)
class _Pending:
    contact: Contact
    sent_at: float


class Qualifier:
    """Decides when each contact is due, sends OPTIONS, and judges the answers."""

    def __init__(
        self,
        pjsip: PjsipConfig,
        location: LocationService,
        bus: EventBus,
        send: SendRequest,
        local: LocalAddress,
    ) -> None:
        self.pjsip = pjsip
        self.location = location
        self.bus = bus
        self.send = send
        self.local = local
        self.status: dict[tuple[str, str], str] = {}
        self._next: dict[tuple[str, str], float] = {}
        self._pending: dict[TransactionKey, _Pending] = {}

    def tick(self, now: float) -> None:
        """Send due OPTIONS and time out unanswered ones; ``now`` is monotonic seconds."""
        for key, pending in list(self._pending.items()):
            aor = self.pjsip.aors.get(pending.contact.aor)
            timeout = aor.qualify_timeout if aor is not None else 3.0
            if now - pending.sent_at >= timeout:
                del self._pending[key]
                self._set(pending.contact, "unreachable", None)
        for aor in self.pjsip.aors.values():
            if aor.qualify_frequency <= 0:
                continue
            for contact in self.location.contacts(aor.name):
                ident = (contact.aor, contact.uri)
                if self._next.get(ident, 0.0) > now:
                    continue
                self._next[ident] = now + aor.qualify_frequency
                sent = self._options(contact)
                if sent is not None:
                    self._pending[sent] = _Pending(contact, now)

    def response(self, key: TransactionKey, response: SipResponse | None, now: float) -> bool:
        """A final answer (None: timeout or transport failure) for one of our OPTIONS; any
        answer at all means the device is there, as Asterisk judges it. False if not ours."""
        pending = self._pending.pop(key, None)
        if pending is None:
            return False
        if response is None:
            self._set(pending.contact, "unreachable", None)
        else:
            self._set(pending.contact, "reachable", (now - pending.sent_at) * 1000)
        return True

    def _set(self, contact: Contact, status: str, rtt_ms: float | None) -> None:
        ident = (contact.aor, contact.uri)
        previous = self.status.get(ident)
        self.status[ident] = status
        if previous != status:
            self.bus.publish(ContactStatusChanged(contact.aor, contact.uri, status, rtt_ms))

    def _options(self, contact: Contact) -> TransactionKey | None:
        transport: TransportName = contact.transport  # type: ignore[assignment]
        local = self.local(transport)
        if local is None:
            return None
        host, port = local
        sent_by = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        headers = SipHeaders.from_pairs(
            [
                ("Via", f"SIP/2.0/{transport.upper()} {sent_by};rport"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:switchboard@{sent_by}>;tag={secrets.token_hex(4)}"),
                ("To", f"<{contact.uri}>"),
                ("Call-ID", secrets.token_hex(8)),
                ("CSeq", "1 OPTIONS"),
                ("Content-Length", "0"),
            ]
        )
        peer = Peer(transport, contact.source_host, contact.source_port, contact.connection or None)
        return self.send(SipRequest("OPTIONS", contact.uri, headers), peer)
