"""Message-waiting indication (RFC 3842): the phones' message lamps, as res_pjsip_mwi does it.

Two ways to reach a phone:

- Unsolicited: an endpoint whose ``mailboxes=`` (or whose AOR's ``mailboxes=``) names a
  mailbox gets an out-of-dialog NOTIFY (``Event: message-summary``, ``Subscription-State:
  active``) at every registered contact of its AORs when the mailbox changes, and at a
  contact as soon as it registers. Out of dialog on purpose: most phones answer 481 to an
  in-dialog NOTIFY for a dialog they never made (Asterisk's comment says the same). One
  NOTIFY sums every mailbox of the endpoint and AOR (Asterisk's ``aggregate_mwi=yes``).
- Subscribed: a phone that sends ``SUBSCRIBE`` with ``Event: message-summary`` (the
  request router authenticates it as it does a REGISTER) gets a dialog, a 200 with the
  granted ``Expires`` and a NOTIFY of the current state in that dialog, then one at every
  change until it unsubscribes (``Expires: 0``: a final ``terminated`` NOTIFY), its NOTIFY
  is refused, or the subscription expires (silently). The resource is the Request-URI user:
  one of the endpoint's AORs (its mailboxes and the endpoint's), a ``voicemail_extension``,
  a mailbox number the endpoint lists, or none (all of them). AORs of other endpoints are
  not offered: the message counts are the subscriber's own business only. A subscription
  replaces unsolicited NOTIFYs to the address it came from (Asterisk's
  ``mwi_subscribe_replaces_unsolicited``), so a phone never gets both.

``Message-Account`` names the ``voicemail_extension`` (the AOR's, else the endpoint's) at
our address, as Asterisk does; without one, the mailbox number when the NOTIFY covers
exactly one mailbox.

Times are monotonic seconds from the injected clock; the composition root calls
:meth:`MessageWaiting.tick` to expire subscriptions. The voicemail spool supplies ``counts``
and calls :meth:`MessageWaiting.mailbox_changed` on every deposit, read and delete.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from switchboard.config.pjsip import Aor, Endpoint, PjsipConfig
from switchboard.core.contact import Contact
from switchboard.core.events import Event, EventBus
from switchboard.services.location import ContactAdded, LocationService
from switchboard.services.qualify import LocalAddress, SendRequest
from switchboard.sip.dialog import CONFIRMED, Dialog, DialogId, request_dialog_id
from switchboard.sip.errors import RemoteProtocolError
from switchboard.sip.headers import SipHeaders, split_commas
from switchboard.sip.message import SipRequest, SipResponse, make_response
from switchboard.sip.message_summary import CONTENT_TYPE, EVENT_PACKAGE, MessageSummary
from switchboard.sip.peer import Peer, TransportName
from switchboard.sip.transaction.events import TransactionKey
from switchboard.sip.uri import sip_user_host
from switchboard.transport.routes import host_port, local_address_for

log = logging.getLogger(__name__)

Counts = Callable[[str], tuple[int, int]]
"""(new, old) messages of a mailbox named ``box@context``."""
Defer = Callable[[Callable[[], None]], object]
"""Run a callable once what the current message caused is sent (``SipStack.after_sending``)."""
Reply = Callable[[SipResponse], None]

ALLOW_EVENTS = EVENT_PACKAGE
DEFAULT_EXPIRES = 3600
"""Seconds granted when a SUBSCRIBE has no Expires (RFC 3842 §4.3: one hour)."""
MIN_EXPIRES = 60
"""Shorter non-zero requests get 423 with this Min-Expires (res_pjsip_pubsub's minimum)."""
MAX_EXPIRES = 3600
"""Longer requests are granted this much (a notifier may shorten, RFC 6665 §4.2.1.1)."""
DEFAULT_CONTEXT = "default"
_ACCEPTABLE = frozenset({CONTENT_TYPE, "application/*", "*/*"})


@dataclass(frozen=True, slots=True)
class MessageWaitingNotified(Event):
    """A NOTIFY sent: ``mailbox`` lists the mailboxes it sums (comma-separated)."""

    mailbox: str
    endpoint: str
    new: int
    old: int
    uri: str = ""
    """The contact (unsolicited) or the subscriber's target (subscribed) it went to."""
    subscribed: bool = False


@dataclass(frozen=True, slots=True)
class MwiSubscribed(Event):
    """A message-summary subscription accepted (or refreshed)."""

    endpoint: str
    mailbox: str
    expires: int
    source: str


@dataclass(frozen=True, slots=True)
class MwiSubscriptionEnded(Event):
    """A subscription gone: ``unsubscribed``, ``expired`` or ``notify failed``."""

    endpoint: str
    mailbox: str
    reason: str


@dataclass(slots=True)
class _Subscription:
    dialog: Dialog
    endpoint: str
    mailboxes: tuple[str, ...]
    account: str | None
    peer: Peer
    expires_at: float


def qualified_mailbox(name: str) -> str:
    """``101`` -> ``101@default``; ``101@sales`` stays."""
    box, _, context = name.strip().partition("@")
    return f"{box}@{context or DEFAULT_CONTEXT}"


def event_package(request: SipRequest) -> str | None:
    """The Event header's package name (RFC 6665 §8.2.1), parameters dropped; None if absent."""
    value = request.headers.get("event")
    if value is None:
        return None
    return value.partition(";")[0].strip().lower()


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(qualified_mailbox(n) for n in names if n.strip()))


class MessageWaiting:
    """Sends message-summary NOTIFYs and keeps the message-summary subscriptions."""

    def __init__(
        self,
        pjsip: PjsipConfig,
        location: LocationService,
        bus: EventBus,
        send_request: SendRequest,
        local_address: LocalAddress,
        *,
        counts: Counts,
        defer: Defer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pjsip = pjsip
        self.location = location
        self.bus = bus
        self.send = send_request
        self.local = local_address
        self.counts = counts
        self.defer = defer
        self.clock = clock
        self.subscriptions: dict[DialogId, _Subscription] = {}
        self._notifies: dict[TransactionKey, DialogId] = {}
        bus.subscribe(self._contact_added, (ContactAdded,))

    # -- which mailboxes ------------------------------------------------------------------

    def mailboxes(self, endpoint: Endpoint, aor_name: str | None = None) -> tuple[str, ...]:
        """The endpoint's mailboxes with those of one AOR (None: of all its AORs)."""
        names = list(endpoint.mailboxes)
        for name in endpoint.aors if aor_name is None else (aor_name,):
            aor = self.pjsip.aors.get(name)
            if aor is not None:
                names.extend(aor.mailboxes)
        return _unique(names)

    def _summary(self, mailboxes: tuple[str, ...], account: str | None) -> MessageSummary:
        new = old = 0
        for mailbox in mailboxes:
            box_new, box_old = self.counts(mailbox)
            new += box_new
            old += box_old
        return MessageSummary.voice(new, old, account=account)

    def _account(
        self, endpoint: Endpoint, aor: Aor | None, mailboxes: tuple[str, ...], where: str
    ) -> str | None:
        extension = (aor.voicemail_extension if aor is not None else "") or (
            endpoint.voicemail_extension
        )
        if not extension and len(mailboxes) == 1:
            extension = mailboxes[0].partition("@")[0]
        return f"sip:{extension}@{where}" if extension else None

    # -- changes --------------------------------------------------------------------------

    def mailbox_changed(self, mailbox: str) -> None:
        """Tell every phone watching ``mailbox`` (``101`` or ``101@context``) its new state."""
        wanted = qualified_mailbox(mailbox)
        done: set[tuple[str, str]] = set()
        for endpoint in self.pjsip.endpoints.values():
            for aor_name in endpoint.aors:
                boxes = self.mailboxes(endpoint, aor_name)
                if wanted in boxes:
                    self._notify_contacts(endpoint, aor_name, boxes, done)
        for subscription in list(self.subscriptions.values()):
            if wanted in subscription.mailboxes:
                self._notify_subscription(subscription, terminated=False)

    def notify_all(self) -> None:
        """Send every registered contact with mailboxes its state (at start-up, as Asterisk
        does unless ``mwi_disable_initial_unsolicited``: contacts restored from the store
        registered before the restart and are owed the current state)."""
        done: set[tuple[str, str]] = set()
        for endpoint in self.pjsip.endpoints.values():
            for aor_name in endpoint.aors:
                boxes = self.mailboxes(endpoint, aor_name)
                if boxes:
                    self._notify_contacts(endpoint, aor_name, boxes, done)

    def endpoints_changed(self, names: Iterable[str]) -> None:
        """After a reload: send these endpoints' phones their mailboxes' state (a phone whose
        endpoint just got ``mailboxes=`` would otherwise wait for the next message)."""
        done: set[tuple[str, str]] = set()
        for name in names:
            endpoint = self.pjsip.endpoints.get(name)
            if endpoint is None:
                continue
            for aor_name in endpoint.aors:
                boxes = self.mailboxes(endpoint, aor_name)
                if boxes:
                    self._notify_contacts(endpoint, aor_name, boxes, done)

    def _contact_added(self, event: Event) -> None:
        """A phone registered: send it the current state once the REGISTER is answered."""
        assert isinstance(event, ContactAdded)
        endpoint = self.pjsip.endpoints.get(event.endpoint)
        if endpoint is None:
            return
        boxes = self.mailboxes(endpoint, event.aor)
        if not boxes:
            return

        def notify() -> None:
            for contact in self.location.contacts(event.aor):
                if contact.uri == event.uri:
                    self._notify_contact(endpoint, contact, boxes)

        if self.defer is None:
            notify()
        else:
            self.defer(notify)

    def _notify_contacts(
        self,
        endpoint: Endpoint,
        aor_name: str,
        mailboxes: tuple[str, ...],
        done: set[tuple[str, str]],
    ) -> None:
        """Notify each contact of the AOR not yet in ``done`` (an AOR shared by endpoints
        is notified once)."""
        for contact in self.location.contacts(aor_name):
            if (contact.aor, contact.uri) not in done:
                done.add((contact.aor, contact.uri))
                self._notify_contact(endpoint, contact, mailboxes)

    def _local_host(self, transport: str, towards: str) -> tuple[str, int] | None:
        local = self.local(transport)
        if local is None:
            return None
        host, port = local
        if host in ("", "0.0.0.0", "::"):
            host = local_address_for(towards)
        return host, port

    def _subscribed_from(self, peer: Peer, mailboxes: tuple[str, ...]) -> bool:
        return any(
            (s.peer.transport, s.peer.host, s.peer.port) == (peer.transport, peer.host, peer.port)
            and set(mailboxes) <= set(s.mailboxes)
            for s in self.subscriptions.values()
        )

    def _notify_contact(
        self, endpoint: Endpoint, contact: Contact, mailboxes: tuple[str, ...]
    ) -> None:
        transport: TransportName = contact.transport  # type: ignore[assignment]
        peer = Peer(transport, contact.source_host, contact.source_port, contact.connection or None)
        if self._subscribed_from(peer, mailboxes):
            return
        local = self._local_host(transport, contact.source_host)
        if local is None:
            log.warning("mwi: no %s transport to notify %s", transport, endpoint.name)
            return
        where = host_port(*local)
        summary = self._summary(mailboxes, self._account(endpoint, None, mailboxes, where))
        suffix = "" if transport == "udp" else f";transport={transport}"
        headers = SipHeaders.from_pairs(
            [
                ("Via", f"SIP/2.0/{transport.upper()} {where};rport"),
                ("Max-Forwards", "70"),
                (
                    "From",
                    f"<sip:{endpoint.from_user or 'switchboard'}@{where}>"
                    f";tag={secrets.token_hex(4)}",
                ),
                ("To", f"<{contact.uri}>"),
                ("Contact", f"<sip:switchboard@{where}{suffix}>"),
                ("Call-ID", secrets.token_hex(8)),
                ("CSeq", "1 NOTIFY"),
                ("Event", EVENT_PACKAGE),
                ("Subscription-State", "active"),
                ("Allow-Events", ALLOW_EVENTS),
                ("Content-Type", CONTENT_TYPE),
            ]
        )
        self.send(SipRequest("NOTIFY", contact.uri, headers, summary.serialize()), peer)
        self._notified(mailboxes, endpoint.name, summary, contact.uri, subscribed=False)

    def _notified(
        self,
        mailboxes: tuple[str, ...],
        endpoint: str,
        summary: MessageSummary,
        uri: str,
        *,
        subscribed: bool,
    ) -> None:
        counts = summary.get("voice-message")
        new, old = (counts.new, counts.old) if counts is not None else (0, 0)
        log.debug("mwi: %s %s new=%d old=%d to %s", endpoint, ",".join(mailboxes), new, old, uri)
        self.bus.publish(
            MessageWaitingNotified(",".join(mailboxes), endpoint, new, old, uri, subscribed)
        )

    # -- subscriptions ---------------------------------------------------------------------

    def subscribe(self, request: SipRequest, endpoint: Endpoint, peer: Peer, reply: Reply) -> None:
        """An authenticated out-of-dialog SUBSCRIBE for message-summary from ``endpoint``."""
        if not endpoint.allow_subscribe:
            reply(make_response(request, 603, to_tag=secrets.token_hex(4)))
            return
        try:
            self._check_accept(request)
            expires = self._expires(request)
            resource = sip_user_host(request.uri_text)
            mailboxes, aor = self._resource(endpoint, (resource[0] or "") if resource else "")
            if not mailboxes:
                raise RemoteProtocolError(404, "No mailbox for this resource")
            local = self._local_host(peer.transport, peer.host)
            if local is None:
                raise RemoteProtocolError(500, f"No {peer.transport} transport to notify on")
            where = host_port(*local)
            suffix = "" if peer.transport == "udp" else f";transport={peer.transport}"
            dialog = Dialog.from_uas(
                request,
                local_tag=secrets.token_hex(4),
                local_target=f"sip:switchboard@{where}{suffix}",
                via=f"SIP/2.0/{peer.transport.upper()} {where};rport",
                over_tls=peer.transport == "tls",
            )
        except RemoteProtocolError as error:
            reply(
                make_response(
                    request,
                    error.status,
                    error.reason,
                    to_tag=secrets.token_hex(4),
                    headers=error.headers,
                )
            )
            return
        dialog.state = CONFIRMED
        subscription = _Subscription(
            dialog,
            endpoint.name,
            mailboxes,
            self._account(endpoint, aor, mailboxes, where),
            peer,
            self.clock() + expires,
        )
        reply(self._accepted(request, subscription, expires))
        if expires == 0:  # a fetch (RFC 6665 §4.4.3): one NOTIFY, no subscription kept
            self._notify_subscription(subscription, terminated=True)
            return
        self.subscriptions[dialog.id] = subscription
        self.bus.publish(MwiSubscribed(endpoint.name, ",".join(mailboxes), expires, str(peer)))
        self._notify_subscription(subscription, terminated=False)

    def refresh(self, request: SipRequest, peer: Peer, reply: Reply) -> None:
        """A SUBSCRIBE inside a dialog: refresh, or unsubscribe with ``Expires: 0``."""
        dialog_id = request_dialog_id(request)
        subscription = self.subscriptions.get(dialog_id) if dialog_id is not None else None
        try:
            if subscription is None:
                raise RemoteProtocolError(481, "Subscription does not exist")
            subscription.dialog.check_request(request)
            self._check_accept(request)
            expires = self._expires(request)
        except RemoteProtocolError as error:
            reply(make_response(request, error.status, error.reason, headers=error.headers))
            return
        subscription.dialog.refresh_target(request)
        subscription.peer = peer
        subscription.expires_at = self.clock() + expires
        reply(self._accepted(request, subscription, expires))
        if expires == 0:
            self._end(subscription, "unsubscribed")
            self._notify_subscription(subscription, terminated=True)
            return
        mailbox = ",".join(subscription.mailboxes)
        self.bus.publish(MwiSubscribed(subscription.endpoint, mailbox, expires, str(peer)))
        self._notify_subscription(subscription, terminated=False)

    def tick(self) -> None:
        """Drop the subscriptions whose time is up (no NOTIFY: the phone stopped refreshing)."""
        now = self.clock()
        for subscription in list(self.subscriptions.values()):
            if subscription.expires_at <= now:
                self._end(subscription, "expired")

    def response(self, key: TransactionKey, response: SipResponse | None) -> bool:
        """The final answer to one of our in-dialog NOTIFYs (None: timeout or transport
        failure). Anything but a 2xx ends the subscription (RFC 6665 §4.2.2). False if the
        transaction is not one of those."""
        dialog_id = self._notifies.pop(key, None)
        if dialog_id is None:
            return False
        subscription = self.subscriptions.get(dialog_id)
        if subscription is not None and (response is None or response.status >= 300):
            self._end(subscription, "notify failed")
        return True

    def _end(self, subscription: _Subscription, reason: str) -> None:
        if self.subscriptions.pop(subscription.dialog.id, None) is not None:
            mailbox = ",".join(subscription.mailboxes)
            self.bus.publish(MwiSubscriptionEnded(subscription.endpoint, mailbox, reason))

    def _accepted(
        self, request: SipRequest, subscription: _Subscription, expires: int
    ) -> SipResponse:
        dialog = subscription.dialog
        return make_response(
            request,
            200,
            to_tag=dialog.local_tag,
            headers=[("Expires", str(expires)), ("Contact", f"<{dialog.local_target}>")],
        )

    def _notify_subscription(self, subscription: _Subscription, *, terminated: bool) -> None:
        if terminated:
            state = "terminated"
        else:
            remaining = max(0, round(subscription.expires_at - self.clock()))
            state = f"active;expires={remaining}"
        summary = self._summary(subscription.mailboxes, subscription.account)
        request = subscription.dialog.create_request(
            "NOTIFY",
            headers=[
                ("Event", EVENT_PACKAGE),
                ("Subscription-State", state),
                ("Allow-Events", ALLOW_EVENTS),
            ],
            body=summary.serialize(),
            content_type=CONTENT_TYPE,
        )
        key = self.send(request, subscription.peer)
        if not terminated:
            self._notifies[key] = subscription.dialog.id
        self._notified(
            subscription.mailboxes,
            subscription.endpoint,
            summary,
            subscription.dialog.remote_target,
            subscribed=True,
        )

    def _resource(self, endpoint: Endpoint, resource: str) -> tuple[tuple[str, ...], Aor | None]:
        """The mailboxes a subscription to ``resource`` covers, and the AOR it names."""
        if not resource:
            return self.mailboxes(endpoint), None
        aors = [self.pjsip.aors[n] for n in endpoint.aors if n in self.pjsip.aors]
        for aor in aors:
            if resource in (aor.name, aor.voicemail_extension):
                return self.mailboxes(endpoint, aor.name), aor
        if resource == endpoint.voicemail_extension:
            return self.mailboxes(endpoint), None
        every = self.mailboxes(endpoint)
        wanted = qualified_mailbox(resource)
        return ((wanted,) if wanted in every else ()), None

    @staticmethod
    def _check_accept(request: SipRequest) -> None:
        values = request.headers.get_all("accept")
        if not values:
            return
        accepted = {v.partition(";")[0].strip().lower() for x in values for v in split_commas(x)}
        if not accepted & _ACCEPTABLE:
            raise RemoteProtocolError(406, "Not Acceptable", (("Accept", CONTENT_TYPE),))

    @staticmethod
    def _expires(request: SipRequest) -> int:
        value = request.headers.get("expires")
        if value is None:
            return DEFAULT_EXPIRES
        text = value.strip()
        if not text.isdigit() or not text.isascii() or len(text) > 10:
            raise RemoteProtocolError(400, f"Expires must be a number of seconds, not {text!r}")
        asked = int(text)
        if 0 < asked < MIN_EXPIRES:
            raise RemoteProtocolError(
                423, "Interval Too Brief", (("Min-Expires", str(MIN_EXPIRES)),)
            )
        return min(asked, MAX_EXPIRES)
