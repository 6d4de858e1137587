"""INVITE sessions (RFC 3261 §13-§15, RFC 3262, RFC 3311, RFC 4028): one per dialog.

Theory of operation. Sans-I/O like the transaction layer below it: a session takes the
layer's events (:meth:`InviteSession.receive`) and commands from the call engine
(``accept``, ``reinvite``, ``update``, ``answer``, ``bye``, ...), each with ``now``; it
sends through a :class:`TransactionSender` (the :class:`TransactionLayer` is one), queues
:mod:`session_events <switchboard.sip.session_events>` for :meth:`next_event`, and keeps
its own timers, reported by :meth:`next_deadline` and fired by :meth:`handle_timer`.

- :class:`ServerSession`: the UAS of an initial INVITE. Provisional responses (reliable
  ones with RSeq and PRACK when 100rel applies), the 2xx retransmitted until the ACK
  (§13.3.1.4: T1 doubling up to T2; BYE after 64*T1), CANCEL answered 200 with a 487
  to the INVITE.
- :class:`ClientInvite`: the UAC of an initial INVITE. One :class:`InviteSession` per
  remote tag (forking), PRACK for reliable 1xx, the ACK for each 2xx (resent when the 2xx
  is), CANCEL with a Reason header, a retry after 422.
- :class:`InviteSession`: what both sides share once a dialog exists: re-INVITE and
  UPDATE offer/answer with glare (491 and the §14.1 retry delay; 500 with Retry-After
  when the peer's offer is still unanswered), BYE, session timers, other in-dialog
  requests passed up.

SDP bodies are opaque bytes here: the ``sdp`` package reads and writes them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from switchboard.sip.dialog import Dialog, DialogId, DialogInput, DialogState
from switchboard.sip.errors import LocalProtocolError, RemoteProtocolError
from switchboard.sip.headers import SipHeaders
from switchboard.sip.message import (
    SipMessage,
    SipRequest,
    SipResponse,
    check_require,
    error_response,
    make_response,
)
from switchboard.sip.peer import Peer
from switchboard.sip.reason import Reason, parse_reason
from switchboard.sip.session_events import (
    AnswerReceived,
    DialogEstablished,
    DialogTerminated,
    EarlyDialogCreated,
    InDialogRequestReceived,
    InDialogResponseReceived,
    InviteFailed,
    OfferReceived,
    OfferRejected,
    ProvisionalReceived,
    SessionEvent,
    SessionRefreshed,
)
from switchboard.sip.session_timer import (
    TIMER,
    Negotiated,
    Refresher,
    SessionTimer,
    SessionTimerConfig,
    interval_after_422,
    request_headers,
    uac_negotiate,
    uas_negotiate,
)
from switchboard.sip.transaction.client_invite import make_cancel
from switchboard.sip.transaction.events import (
    AckReceived,
    CancelReceived,
    Event,
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
    TransactionKey,
    TransactionTimedOut,
)
from switchboard.sip.transaction.timers import T1, T2

REL100 = "100rel"
"""The option-tag of RFC 3262."""
REL100_MODES = ("no", "yes", "required", "peer_supported")
"""Asterisk's ``100rel``: off; used when the peer requires it; always; when the peer supports it."""

TERMINATED_BYE_SENT = "bye-sent"
TERMINATED_BYE_RECEIVED = "bye-received"
TERMINATED_CANCELLED = "cancelled"
TERMINATED_REJECTED = "rejected"
TERMINATED_ACK_TIMEOUT = "ack-timeout"
TERMINATED_PRACK_TIMEOUT = "prack-timeout"
TERMINATED_SESSION_EXPIRED = "session-expired"
TERMINATED_GONE = "dialog-gone"
TERMINATED_OTHER_FORK = "answered-by-another-fork"

MAX_422_RETRIES = 2


class TransactionSender(Protocol):
    """What a session needs from the transaction layer (``TransactionLayer`` satisfies it)."""

    def new_branch(self) -> str:
        """A fresh branch for an ACK sent outside any transaction."""
        ...

    def send_request(self, request: SipRequest, peer: Peer, now: float) -> TransactionKey:
        """Start a client transaction."""
        ...

    def send_response(self, key: TransactionKey, response: SipResponse, now: float) -> bool:
        """Respond on a server transaction; False when it is gone or forbids it."""
        ...

    def send_stateless(self, message: SipMessage, peer: Peer) -> None:
        """Send outside any transaction (ACK for a 2xx, a late 2xx retransmission)."""
        ...


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Per-endpoint settings: where we are, and Asterisk's ``100rel`` and ``timers*`` options."""

    contact: str
    """Our Contact URI (the dialog's local target)."""
    via: str
    """Our Via value without branch, e.g. ``SIP/2.0/UDP 192.0.2.1:5060``."""
    rel100: str = "yes"
    session_timers: SessionTimerConfig = field(default_factory=SessionTimerConfig)
    T1: float = T1
    T2: float = T2
    allow: str = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, INFO, REFER, NOTIFY"

    def __post_init__(self) -> None:
        """Refuse an unknown ``100rel`` value."""
        if self.rel100 not in REL100_MODES:
            raise ValueError(f"Expected 100rel in {REL100_MODES}, found {self.rel100!r}")

    @property
    def supported(self) -> list[str]:
        """The option-tags we support (for Supported, and the Require check)."""
        tags = []
        if self.rel100 != "no":
            tags.append(REL100)
        if self.session_timers.enabled:
            tags.append(TIMER)
        return tags


def glare_retry_delay(owner: bool, random: Callable[[], float]) -> float:
    """RFC 3261 §14.1 after a 491: 2.1-4 s for the Call-ID's owner, else 0-2 s, in 10 ms units."""
    if owner:
        return 2.1 + int(random() * 190) / 100
    return int(random() * 201) / 100


def _option_tags(message: SipMessage, name: str) -> set[str]:
    return {tag.lower() for tag in message.headers.get_all(name)}


def parse_rack(value: str) -> tuple[int, int, str] | None:
    """``RAck: response-num CSeq-num Method`` (RFC 3262 §7.2), None when malformed."""
    parts = value.split()
    if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1]), parts[2]


@dataclass(slots=True)
class _Outgoing:
    """A client transaction this session started."""

    request: SipRequest
    offer: bool = False
    """It carries our offer, or (an INVITE without body) asks for one."""
    refresh: bool = False
    """It is a session refresh."""
    interval: int | None = None
    """The Session-Expires it asked for."""
    retries: int = 0


class InviteSession:
    """One dialog's INVITE usage: offer/answer, re-INVITE and UPDATE, glare, BYE, timers."""

    def __init__(
        self,
        dialog: Dialog,
        *,
        host: TransactionSender,
        peer: Peer,
        config: SessionConfig,
        random: Callable[[], float],
        call_id_owner: bool,
        events: deque[SessionEvent] | None = None,
    ) -> None:
        self.dialog = dialog
        self.host = host
        self.peer = peer
        """Where in-dialog requests go (the caller may re-resolve :attr:`Dialog.next_hop`)."""
        self.config = config
        self._random = random
        self.call_id_owner = call_id_owner
        """We chose the Call-ID (we sent the initial INVITE): the long §14.1 retry delay."""
        self._events: deque[SessionEvent] = deque() if events is None else events
        self.local_sdp = b""
        """The last session description we sent (re-sent as is by session refreshes)."""
        self.remote_sdp = b""
        """The last session description the peer sent that was an offer or answer."""
        self._offer: str | None = None
        """Outstanding offer: "local" (ours, awaiting the answer), "remote", or None."""
        self._answer_in: str = ""
        """Where our answer to a remote offer goes: invite, update, ack or prack."""
        self._answer_key: TransactionKey | None = None
        self._offered = b""
        """Our offer in flight; it becomes :attr:`local_sdp` once answered."""
        self._pending_bye: list[tuple[str, str]] | None = None
        """A BYE asked for before the ACK of our 2xx: sent once it arrives (RFC 3261 §15)."""
        self._outgoing: dict[TransactionKey, _Outgoing] = {}
        self._invite_client: TransactionKey | None = None
        self._invite_server: TransactionKey | None = None
        self._server_requests: dict[TransactionKey, SipRequest] = {}
        self._server_negotiated: dict[TransactionKey, Negotiated | None] = {}
        self._ack: SipRequest | None = None
        self._ack_seq: int | None = None
        self.peer_allow: set[str] = set()
        """Methods the peer's Allow listed (UPDATE decides how we refresh)."""
        self.timer = SessionTimer()
        # The 2xx to an INVITE we answered, until its ACK (§13.3.1.4).
        self._ok: SipResponse | None = None
        self._ok_key: TransactionKey | None = None
        self._ok_interval = 0.0
        self._ok_next = 0.0
        self._ok_until = 0.0
        # A re-INVITE or UPDATE to resend after 491 (§14.1).
        self._retry: _Outgoing | None = None
        self._retry_at: float | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dialog!r}>"

    @property
    def id(self) -> DialogId:
        """The dialog's id."""
        return self.dialog.id

    @property
    def terminated(self) -> bool:
        """Whether the dialog (and so the session) has ended."""
        return self.dialog.terminated

    # -- outputs ------------------------------------------------------------------------

    def next_event(self) -> SessionEvent | None:
        """The oldest event not yet returned, or None."""
        return self._events.popleft() if self._events else None

    def _emit(self, event: SessionEvent) -> None:
        self._events.append(event)

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next be called, or None."""
        deadlines = [
            t
            for t in (
                self._ok_next if self._ok is not None else None,
                self._retry_at,
                self.timer.next_deadline(),
                *self._more_deadlines(),
            )
            if t is not None
        ]
        return min(deadlines) if deadlines else None

    def _more_deadlines(self) -> Iterable[float | None]:
        return ()

    # -- timers -------------------------------------------------------------------------

    def handle_timer(self, now: float) -> None:
        """Fire whatever is due: 2xx retransmission, glare retry, session refresh or expiry."""
        if self._ok is not None and now >= self._ok_next:
            self._retransmit_ok(now)
        if self._retry_at is not None and now >= self._retry_at:
            self._retry_now(now)
        if self.timer.expired(now):
            self.timer.stop()
            self.terminate(now, TERMINATED_SESSION_EXPIRED, send_bye=True)
        elif self.timer.refresh_due(now):
            self._refresh(now)

    def _retransmit_ok(self, now: float) -> None:
        """Resend the 2xx (T1 doubling up to T2); after 64*T1 without ACK, BYE (§13.3.1.4)."""
        assert self._ok is not None and self._ok_key is not None
        if now >= self._ok_until:
            self._ok = None
            reason = TERMINATED_ACK_TIMEOUT if self._pending_bye is None else TERMINATED_BYE_SENT
            self.terminate(now, reason, send_bye=True, bye_headers=self._pending_bye or ())
            return
        if not self.host.send_response(self._ok_key, self._ok, now):
            self.host.send_stateless(self._ok, self.peer)
        self._ok_interval = min(2 * self._ok_interval, self.config.T2)
        self._ok_next = min(now + self._ok_interval, self._ok_until)

    def _start_ok(self, key: TransactionKey, response: SipResponse, now: float) -> None:
        """Send a 2xx to an INVITE and retransmit it until the ACK."""
        self.host.send_response(key, response, now)
        self._ok = response
        self._ok_key = key
        self._ok_interval = self.config.T1
        self._ok_next = now + self.config.T1
        self._ok_until = now + 64 * self.config.T1

    def _retry_now(self, now: float) -> None:
        """Resend the re-INVITE or UPDATE that met glare, unless another one is under way."""
        retry = self._retry
        assert retry is not None
        self._retry = self._retry_at = None
        if self.terminated:
            return
        if self._invite_client is not None or self._invite_server is not None or self._offer:
            self._emit(OfferRejected(self.id, 491))
            return
        request = retry.request
        self._send_offer(request.method, now, request.body, _extra_headers(request), retry)

    def _refresh(self, now: float) -> None:
        """Refresh the session (RFC 4028 §7.4): UPDATE when the peer allows it, else re-INVITE."""
        self.timer.refresh_sent()
        if self._invite_client is not None or self._invite_server is not None or self._offer:
            self.timer.refresh_at = now + self.config.T2  # another exchange is under way
            return
        interval = self.timer.interval
        if "UPDATE" in self.peer_allow:
            out = _Outgoing(self._build("UPDATE", interval), refresh=True, interval=interval)
        else:
            request = self._build("INVITE", interval, self.local_sdp)
            out = _Outgoing(request, offer=bool(self.local_sdp), refresh=True, interval=interval)
            if out.offer:
                self._offer = "local"
        self._send(out, now)

    # -- commands -----------------------------------------------------------------------

    def reinvite(
        self, now: float, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()
    ) -> TransactionKey:
        """Send a re-INVITE (an offer when ``body`` is given, else asking for one)."""
        return self._send_offer("INVITE", now, body, headers)

    def update(
        self, now: float, body: bytes, headers: Iterable[tuple[str, str]] = ()
    ) -> TransactionKey:
        """Send an UPDATE carrying an offer (RFC 3311), early or confirmed."""
        return self._send_offer("UPDATE", now, body, headers)

    def _send_offer(
        self,
        method: str,
        now: float,
        body: bytes,
        headers: Iterable[tuple[str, str]],
        previous: _Outgoing | None = None,
    ) -> TransactionKey:
        if self.terminated:
            raise LocalProtocolError(f"Cannot send {method} in a terminated dialog")
        if method == "INVITE" and (self._invite_client or self._invite_server):
            raise LocalProtocolError("An INVITE transaction is already under way (RFC 3261 §14.1)")
        if self._offer is not None:
            raise LocalProtocolError("An offer is already outstanding (RFC 3264 §4)")
        interval = self.timer.interval if self.timer.running else None
        out = _Outgoing(
            self._build(method, interval, body, headers),
            offer=bool(body) or method == "INVITE",
            interval=interval,
            retries=0 if previous is None else previous.retries,
        )
        if body:
            self._offer = "local"
            self._offered = body
        return self._send(out, now)

    def _build(
        self,
        method: str,
        interval: int | None,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> SipRequest:
        """A re-INVITE or UPDATE with our Supported, Allow and session-timer fields."""
        fields = [("Allow", self.config.allow)]
        refresher = None
        if self.timer.running:
            refresher = Refresher.UAC if self.timer.local_refresher else Refresher.UAS
        timer_fields = [
            (name, value)
            for name, value in request_headers(self.config.session_timers, interval, refresher)
            if name != "Supported"
        ]
        if self.config.supported:
            fields.append(("Supported", ", ".join(self.config.supported)))
        return self.dialog.create_request(
            method, headers=[*fields, *timer_fields, *headers], body=body
        )

    def _send(self, out: _Outgoing, now: float) -> TransactionKey:
        key = self.host.send_request(out.request, self.peer, now)
        self._outgoing[key] = out
        if out.request.method == "INVITE":
            self._invite_client = key
        return key

    def answer(self, now: float, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer the peer's outstanding offer with ``body``, where RFC 3264 puts the answer."""
        if self._offer != "remote":
            raise LocalProtocolError("There is no offer to answer")
        self._offer = None
        self.local_sdp = body
        where = self._answer_in
        key = self._answer_key
        if where == "ack":
            assert self._ack_seq is not None
            self._send_ack(self._ack_seq, body)
        elif where == "prack":
            self._send_prack_answer(now, body)
        elif where == "update":
            assert key is not None
            self._accept_update(key, now, body, headers)
        else:
            assert key is not None
            self._accept_invite(key, now, body, headers)

    def reject_offer(self, now: float, status: int = 488) -> None:
        """Refuse the peer's re-INVITE or UPDATE offer; the previous session stands."""
        if self._offer != "remote" or self._answer_key is None:
            raise LocalProtocolError("There is no re-INVITE or UPDATE offer to reject")
        key = self._answer_key
        self._offer = None
        self._answer_key = None
        self._respond(key, status, now)
        self._end_server(key)

    def bye(self, now: float, reason: Reason | None = None) -> None:
        """End a confirmed dialog with BYE (an early one is ended by CANCEL or a final response)."""
        if self.dialog.state is not DialogState.CONFIRMED:
            raise LocalProtocolError(f"BYE needs a confirmed dialog, not {self.dialog!r}")
        headers = [] if reason is None else [("Reason", str(reason))]
        if self._ok is not None:
            self._pending_bye = headers  # the callee waits for the ACK (RFC 3261 §15)
            return
        self.terminate(now, TERMINATED_BYE_SENT, send_bye=True, bye_headers=headers)

    def request(
        self,
        method: str,
        now: float,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> TransactionKey:
        """Send another in-dialog request (INFO, REFER, NOTIFY, MESSAGE, OPTIONS)."""
        if method in ("INVITE", "UPDATE", "BYE", "ACK", "CANCEL", "PRACK"):
            raise LocalProtocolError(f"{method} has its own session command")
        request = self.dialog.create_request(
            method, headers=headers, body=body, content_type=content_type
        )
        return self._send(_Outgoing(request), now)

    def respond(
        self,
        key: TransactionKey,
        request: SipRequest,
        status: int,
        now: float,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str = "application/sdp",
    ) -> None:
        """Answer an in-dialog request passed up with :class:`InDialogRequestReceived`."""
        response = self._response(request, status, headers, body, content_type)
        self.host.send_response(key, response, now)

    def terminate(
        self,
        now: float,
        reason: str,
        *,
        status: int | None = None,
        reasons: tuple[Reason, ...] = (),
        send_bye: bool = False,
        bye_headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """End the dialog once: BYE when asked and confirmed, stop timers, report why."""
        if self.terminated:
            return
        if send_bye and self.dialog.state is DialogState.CONFIRMED:
            self._send(_Outgoing(self.dialog.create_request("BYE", headers=bye_headers)), now)
        self.dialog.process(DialogInput.BYE if send_bye else DialogInput.GONE)
        self._ok = None
        self._retry = self._retry_at = None
        self.timer.stop()
        self._on_terminated()
        self._emit(DialogTerminated(self.id, reason, status, reasons))

    def _on_terminated(self) -> None:
        """Hook for subclasses: stop their own timers."""

    # -- inputs -------------------------------------------------------------------------

    def receive(self, event: Event, now: float) -> None:
        """Feed one transaction-layer event that belongs to this dialog."""
        if isinstance(event, ResponseReceived):
            self._on_response(event.key, event.response, now)
        elif isinstance(event, TransactionTimedOut | TransactionFailed):
            if event.response is not None:
                self._on_response(event.key, event.response, now)
        elif isinstance(event, RequestReceived):
            self._on_request(event.key, event.request, now)
        elif isinstance(event, AckReceived):
            self._on_ack(event.request, now)
        elif isinstance(event, CancelReceived):
            self._on_cancel(event, now)

    def owns(self, key: TransactionKey) -> bool:
        """Whether ``key`` is a client transaction this session started."""
        return key in self._outgoing

    # -- requests received --------------------------------------------------------------

    def _response(
        self,
        request: SipRequest,
        status: int,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str = "application/sdp",
    ) -> SipResponse:
        fields = list(headers)
        if body:
            fields.append(("Content-Type", content_type))
        return make_response(
            request, status, to_tag=self.dialog.local_tag, headers=fields, body=body
        )

    def _respond(
        self,
        key: TransactionKey,
        status: int,
        now: float,
        headers: Iterable[tuple[str, str]] = (),
        *,
        request: SipRequest | None = None,
    ) -> None:
        request = self._server_requests[key] if request is None else request
        self.host.send_response(key, self._response(request, status, headers), now)

    def _reply_error(self, key: TransactionKey, error: RemoteProtocolError, now: float) -> None:
        response = error_response(error, self.dialog.local_tag)
        if response is not None:
            self.host.send_response(key, response, now)

    def _on_request(self, key: TransactionKey, request: SipRequest, now: float) -> None:
        if self.terminated:
            self._reply_error(key, RemoteProtocolError(481, "Dialog terminated", (), request), now)
            return
        try:
            self.dialog.check_request(request)
            check_require(request, self.config.supported)
        except RemoteProtocolError as exc:
            self._reply_error(key, exc, now)
            return
        method = request.method
        if method == "BYE":
            self._respond(key, 200, now, request=request)
            self._on_bye(now)
            reasons = _reasons(request)
            self.terminate(now, TERMINATED_BYE_RECEIVED, reasons=reasons)
        elif method == "INVITE":
            self._on_reinvite(key, request, now)
        elif method == "UPDATE":
            self._on_update(key, request, now)
        elif method == "PRACK":
            self._on_prack(key, request, now)
        else:
            self._emit(InDialogRequestReceived(self.id, key, request))

    def _on_bye(self, now: float) -> None:
        """Hook: a BYE arrived (the UAS of a pending initial INVITE answers it 487)."""

    def _on_prack(self, key: TransactionKey, request: SipRequest, now: float) -> None:
        self._reply_error(
            key, RemoteProtocolError(481, "No reliable provisional", (), request), now
        )

    def _on_cancel(self, event: CancelReceived, now: float) -> None:
        """A CANCEL in this dialog: 200, and 487 to the re-INVITE it cancels (§9.2)."""
        self.host.send_response(event.key, make_response(event.request, 200), now)
        key = event.invite_key
        if key is not None and key == self._invite_server and key == self._answer_key:
            self._offer = None
            self._answer_key = None
            self._respond(key, 487, now)
            self._end_server(key)

    def _glare(self, key: TransactionKey, request: SipRequest, now: float) -> bool:
        """Answer 491 or 500 when an offer cannot be taken now (RFC 3261 §14.2, RFC 3311 §5.2)."""
        if self._invite_client is not None or self._offer == "local":
            self._respond(key, 491, now, request=request)
            return True
        if self._invite_server is not None or self._offer == "remote":
            retry = str(int(self._random() * 11))
            self._respond(key, 500, now, [("Retry-After", retry)], request=request)
            return True
        return False

    def _negotiate(self, key: TransactionKey, request: SipRequest, now: float) -> bool:
        """Session-timer negotiation for a received INVITE or UPDATE; False once rejected."""
        try:
            self._server_negotiated[key] = uas_negotiate(self.config.session_timers, request)
        except RemoteProtocolError as exc:
            self._reply_error(key, exc, now)
            return False
        self._server_requests[key] = request
        return True

    def _on_reinvite(self, key: TransactionKey, request: SipRequest, now: float) -> None:
        if self._glare(key, request, now) or not self._negotiate(key, request, now):
            return
        self._invite_server = key
        self._note_allow(request)
        if request.body:
            self._take_offer(key, "invite", request.body, "INVITE")
        else:
            # We offer in the 2xx (our current session, unchanged); the ACK answers.
            self._offer = "local" if self.local_sdp else None
            self._accept_invite(key, now, self.local_sdp, ())

    def _on_update(self, key: TransactionKey, request: SipRequest, now: float) -> None:
        if request.body and self._glare(key, request, now):
            return
        if not self._negotiate(key, request, now):
            return
        self._note_allow(request)
        if request.body:
            self._take_offer(key, "update", request.body, "UPDATE")
        else:
            self._accept_update(key, now, b"", ())

    def _take_offer(self, key: TransactionKey | None, where: str, body: bytes, method: str) -> None:
        self._offer = "remote"
        self._answer_in = where
        self._answer_key = key
        self.remote_sdp = body
        self._emit(OfferReceived(self.id, body, method))

    def _note_allow(self, message: SipMessage) -> None:
        if "allow" in message.headers:
            self.peer_allow = {method.upper() for method in message.headers.get_all("allow")}

    def _success_headers(self, key: TransactionKey, now: float) -> list[tuple[str, str]]:
        """Contact, Allow, Supported and Session-Expires for our 2xx; (re)starts the timer."""
        fields = [("Contact", f"<{self.dialog.local_target}>"), ("Allow", self.config.allow)]
        if self.config.supported:
            fields.append(("Supported", ", ".join(self.config.supported)))
        negotiated = self._server_negotiated.get(key)
        if negotiated is None:
            self.timer.stop()
        else:
            fields.extend(negotiated.headers)
            self.timer.start(negotiated, now)
        return fields

    def _accept_invite(
        self, key: TransactionKey, now: float, body: bytes, headers: Iterable[tuple[str, str]]
    ) -> None:
        """The 2xx to a re-INVITE: target refresh, timer, retransmitted until the ACK."""
        request = self._server_requests[key]
        self.dialog.refresh_target(request)
        fields = [*self._success_headers(key, now), *headers]
        self._start_ok(key, self._response(request, 200, fields, body), now)
        self._end_server(key)

    def _accept_update(
        self, key: TransactionKey, now: float, body: bytes, headers: Iterable[tuple[str, str]]
    ) -> None:
        request = self._server_requests[key]
        self.dialog.refresh_target(request)
        fields = [*self._success_headers(key, now), *headers]
        self.host.send_response(key, self._response(request, 200, fields, body), now)
        self._end_server(key)

    def _end_server(self, key: TransactionKey) -> None:
        """Forget a server transaction we gave its final response."""
        if self._invite_server == key:
            self._invite_server = None
        if self._answer_key == key:
            self._answer_key = None
        self._server_requests.pop(key, None)
        self._server_negotiated.pop(key, None)

    def _on_ack(self, request: SipRequest, now: float) -> None:
        """The ACK for our 2xx: stop retransmitting; it carries the answer to a 2xx offer."""
        if self._ok is None or request.cseq.seq != self._ok.cseq.seq:
            return
        self._ok = None
        if self._offer == "local":
            self._offer = None  # an ACK without answer ends the exchange all the same
            if request.body:
                self.remote_sdp = request.body
                self._emit(AnswerReceived(self.id, request.body))
        if self._pending_bye is not None:
            self.terminate(now, TERMINATED_BYE_SENT, send_bye=True, bye_headers=self._pending_bye)

    # -- responses received -------------------------------------------------------------

    def _on_response(self, key: TransactionKey, response: SipResponse, now: float) -> None:
        out = self._outgoing.get(key)
        if out is None or response.status < 200:
            return
        method = out.request.method
        status = response.status
        if method == "INVITE" and status < 300:
            seq = out.request.cseq.seq
            if self._ack_seq == seq:
                if self._ack is not None:  # a retransmitted 2xx: resend our ACK (§13.2.2.4)
                    self.host.send_stateless(self._ack, self.peer)
                return
            self._ack = None
            self._ack_seq = seq
        else:
            del self._outgoing[key]
        if method == "INVITE":
            self._invite_client = None
        if method in ("INVITE", "UPDATE"):
            self._on_offer_response(out, response, now)
        elif status in (408, 481) and method != "BYE":
            self.terminate(now, TERMINATED_GONE, status=status, send_bye=status == 408)
        elif method not in ("BYE", "PRACK"):
            self._emit(InDialogResponseReceived(self.id, key, response))

    def _on_offer_response(self, out: _Outgoing, response: SipResponse, now: float) -> None:
        """A final response to our re-INVITE or UPDATE (RFC 3261 §14.1, RFC 3311 §5.1)."""
        status = response.status
        method = out.request.method
        if status < 300:
            self.dialog.refresh_target(response)
            self._note_allow(response)
            self._restart_timer(response, out.interval, now, out.refresh)
            if method == "INVITE":
                self._complete_2xx(out, response)
            elif self._offer == "local" and out.offer:
                self._take_answer(response.body)
            return
        if out.offer and self._offer == "local":
            self._offer = None
            self._offered = b""
        if status == 491:
            self._retry = out
            self._retry_at = now + glare_retry_delay(self.call_id_owner, self._random)
        elif status == 422 and out.retries < MAX_422_RETRIES:
            interval = interval_after_422(
                self.config.session_timers, response, out.interval or self.timer.interval
            )
            self._retry_with_interval(out, interval, now)
        elif status in (408, 481):
            self.terminate(now, TERMINATED_GONE, status=status, send_bye=status == 408)
        elif out.refresh:
            self.timer.refresh_at = None  # no refresh possible: the session expires
        elif out.offer:
            self._emit(OfferRejected(self.id, status))

    def _retry_with_interval(self, out: _Outgoing, interval: int, now: float) -> None:
        request = out.request
        retry = _Outgoing(
            self._build(request.method, interval, request.body, _extra_headers(request)),
            offer=out.offer,
            refresh=out.refresh,
            interval=interval,
            retries=out.retries + 1,
        )
        if retry.offer and request.body:
            self._offer = "local"
        self._send(retry, now)

    def _restart_timer(
        self, response: SipResponse, requested: int | None, now: float, refresh: bool
    ) -> None:
        negotiated = uac_negotiate(self.config.session_timers, response, requested)
        if negotiated is None:
            self.timer.stop()
        else:
            self.timer.start(negotiated, now)
        if refresh:
            self._emit(SessionRefreshed(self.id, 0 if negotiated is None else negotiated.interval))

    def _take_answer(self, body: bytes) -> None:
        self._offer = None
        if self._offered:
            self.local_sdp = self._offered  # our offer stands once answered
            self._offered = b""
        self.remote_sdp = body
        self._emit(AnswerReceived(self.id, body))

    def _complete_2xx(self, out: _Outgoing, response: SipResponse) -> None:
        """ACK a 2xx to our INVITE; an offer in the 2xx waits for :meth:`answer` (§13.2.2.4)."""
        seq = out.request.cseq.seq
        if out.request.body:
            if self._offer == "local":
                self._take_answer(response.body)
            self._send_ack(seq)
        elif response.body:
            self._take_offer(None, "ack", response.body, "INVITE")
        else:
            self._send_ack(seq)

    def _send_ack(self, seq: int, body: bytes = b"") -> None:
        """The ACK for the 2xx to our INVITE ``seq``, sent outside any transaction."""
        ack = self.dialog.create_request("ACK", seq=seq, branch=self.host.new_branch(), body=body)
        self._ack = ack
        self._ack_seq = seq
        self.host.send_stateless(ack, self.peer)

    def _send_prack_answer(self, now: float, body: bytes) -> None:
        raise LocalProtocolError("No reliable provisional offer to answer")  # pragma: no cover


def _extra_headers(request: SipRequest) -> list[tuple[str, str]]:
    """The caller's own header fields of a request we built, to rebuild it for a retry."""
    skip = {
        "via",
        "max-forwards",
        "from",
        "to",
        "call-id",
        "cseq",
        "route",
        "contact",
        "allow",
        "supported",
        "require",
        "session-expires",
        "min-se",
        "content-type",
        "content-length",
    }
    return [(name, value) for name, value in request.headers.items() if name.lower() not in skip]


def _reasons(request: SipRequest) -> tuple[Reason, ...]:
    """The Reason values of a BYE or CANCEL; unreadable ones are ignored."""
    reasons: list[Reason] = []
    for value in request.headers.fields("reason"):
        try:
            reasons.extend(parse_reason(value))
        except RemoteProtocolError:
            continue
    return tuple(reasons)


class ServerSession(InviteSession):
    """The UAS of an initial INVITE: provisional responses (100rel), the 2xx, CANCEL.

    The constructor checks the INVITE and raises :class:`RemoteProtocolError` with the
    status to answer: 420 for an unsupported Require, 421 when ``100rel=required`` or
    ``timers=required`` and the UAC lacks the extension, 422 for a Session-Expires below
    ``timers_min_se``, 400 without Contact. Answer it with ``error_response(exc, tag)``.
    """

    def __init__(
        self,
        event: RequestReceived,
        *,
        host: TransactionSender,
        config: SessionConfig,
        local_tag: str,
        random: Callable[[], float],
        events: deque[SessionEvent] | None = None,
    ) -> None:
        request = event.request
        check_require(request, config.supported)
        required = _option_tags(request, "require")
        tags = _option_tags(request, "supported") | required
        if config.rel100 == "required" and REL100 not in tags:
            raise RemoteProtocolError(421, "Extension Required", (("Require", REL100),), request)
        negotiated = uas_negotiate(config.session_timers, request)
        dialog = Dialog.from_uas(
            request,
            local_tag=local_tag,
            local_target=config.contact,
            via=config.via,
            over_tls=event.peer.transport in ("tls", "wss"),
        )
        super().__init__(
            dialog,
            host=host,
            peer=event.peer,
            config=config,
            random=random,
            call_id_owner=False,
            events=events,
        )
        self.invite = request
        self.invite_key = event.key
        self.final_status: int | None = None
        self.reliable_provisionals = REL100 in required or (
            REL100 in tags and config.rel100 in ("peer_supported", "required")
        )
        """Whether our 1xx are sent reliably (RFC 3262): never when the peer only supports it
        and ``100rel=yes``, as Asterisk does."""
        self._invite_server = event.key
        self._server_requests[event.key] = request
        self._server_negotiated[event.key] = negotiated
        self._note_allow(request)
        self._negotiated = False
        """An offer/answer exchange completed (in a reliable 1xx and PRACK)."""
        self._rseq = 1 + int(random() * (2**31 - 2))
        self._unacked: SipResponse | None = None
        self._rel_interval = 0.0
        self._rel_next = 0.0
        self._rel_until = 0.0
        self._queued: deque[tuple[int, bytes, list[tuple[str, str]]]] = deque()
        self._deferred_accept: tuple[bytes | None, list[tuple[str, str]]] | None = None
        if request.body:
            self._take_offer(event.key, "invite", request.body, "INVITE")

    # -- commands -----------------------------------------------------------------------

    def ring(
        self,
        now: float,
        status: int = 180,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Send a provisional response (180, 183 with early media), reliably when 100rel applies."""
        if self.final_status is not None or not 100 < status < 200:
            raise LocalProtocolError(f"Cannot send {status} after {self.final_status}")
        fields = [("Contact", f"<{self.dialog.local_target}>"), *headers]
        if not self.reliable_provisionals:
            response = self._response(self.invite, status, fields, body)
            self.host.send_response(self.invite_key, response, now)
        elif self._unacked is not None:
            self._queued.append((status, body, fields))  # one unacknowledged at a time (§3)
        else:
            self._send_reliable(now, status, body, fields)

    def _send_reliable(
        self, now: float, status: int, body: bytes, fields: list[tuple[str, str]]
    ) -> None:
        """A reliable provisional: Require: 100rel and RSeq, resent until PRACK (RFC 3262 §3)."""
        fields = [*fields, ("Require", REL100), ("RSeq", str(self._rseq))]
        self._rseq += 1
        if body and self._offer == "remote":
            self._offer = None  # the reliable 1xx carries the answer
            self._negotiated = True
            self.local_sdp = body
        elif body and self._offer is None and not self._negotiated:
            self._offer = "local"  # our offer; the PRACK carries the answer
            self.local_sdp = body
        response = self._response(self.invite, status, fields, body)
        self.host.send_response(self.invite_key, response, now)
        self._unacked = response
        self._rel_interval = self.config.T1
        self._rel_next = now + self.config.T1
        self._rel_until = now + 64 * self.config.T1

    def accept(
        self, now: float, body: bytes | None = None, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Answer the INVITE 200 OK: the SDP answer (or our offer when it had none).

        ``body`` None reuses the last SDP we sent. While a reliable provisional waits for
        its PRACK, the 2xx waits too (RFC 3262 §3).
        """
        if self.final_status is not None:
            raise LocalProtocolError(f"The INVITE was already answered {self.final_status}")
        if self._unacked is not None:
            self._deferred_accept = (body, list(headers))
            return
        body = self.local_sdp if body is None else body
        if self._offer == "remote":
            self._offer = None
        elif self._offer is None and not self._negotiated and body and not self.invite.body:
            self._offer = "local"  # our offer in the 2xx; the ACK carries the answer
        self.local_sdp = body
        key = self.invite_key
        fields = [*self._success_headers(key, now), *headers]
        response = self._response(self.invite, 200, fields, body)
        self.final_status = 200
        self.dialog.process(DialogInput.SUCCESS)
        self._start_ok(key, response, now)
        self._end_server(key)
        self._emit(DialogEstablished(self.id))

    def reject(
        self, now: float, status: int = 486, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Answer the INVITE with a 300-699 final response; the early dialog ends."""
        if self.final_status is not None or status < 300:
            raise LocalProtocolError(f"Cannot reject with {status} after {self.final_status}")
        self._final(now, status, headers)
        self.terminate(now, TERMINATED_REJECTED, status=status)

    def reject_offer(self, now: float, status: int = 488) -> None:
        """Refuse an offer; refusing the INVITE's own offer rejects the INVITE."""
        if self._offer == "remote" and self._answer_key == self.invite_key:
            self.reject(now, status)
            return
        super().reject_offer(now, status)

    def _final(self, now: float, status: int, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.final_status = status
        self._offer = None
        response = self._response(self.invite, status, headers)
        self.host.send_response(self.invite_key, response, now)
        self._end_server(self.invite_key)
        self._on_terminated()

    def _accept_invite(
        self, key: TransactionKey, now: float, body: bytes, headers: Iterable[tuple[str, str]]
    ) -> None:
        if key == self.invite_key:
            self._offer = "remote"  # accept() consumes it
            self.accept(now, body, headers)
        else:
            super()._accept_invite(key, now, body, headers)

    # -- inputs -------------------------------------------------------------------------

    def _on_prack(self, key: TransactionKey, request: SipRequest, now: float) -> None:
        """PRACK for our reliable 1xx: 200, then the next queued 1xx or the deferred 2xx."""
        unacked = self._unacked
        rack = parse_rack(request.headers.get("rack") or "")
        if unacked is None or rack != (
            int(unacked.headers.get("rseq") or 0),
            self.invite.cseq.seq,
            "INVITE",
        ):
            super()._on_prack(key, request, now)
            return
        self._respond(key, 200, now, request=request)
        self._unacked = None
        if request.body and self._offer == "local":
            self._negotiated = True
            self._take_answer(request.body)
        if self._queued:
            status, body, fields = self._queued.popleft()
            self._send_reliable(now, status, body, fields)
        elif self._deferred_accept is not None:
            body_or_none, headers = self._deferred_accept
            self._deferred_accept = None
            self.accept(now, body_or_none, headers)

    def _on_cancel(self, event: CancelReceived, now: float) -> None:
        """CANCEL of the INVITE: 200 to it, 487 to the INVITE unless already answered (§9.2)."""
        if event.invite_key != self.invite_key:
            super()._on_cancel(event, now)
            return
        self.host.send_response(event.key, make_response(event.request, 200), now)
        if self.final_status is None:
            self._final(now, 487)
            reasons = _reasons(event.request)
            self.terminate(now, TERMINATED_CANCELLED, status=487, reasons=reasons)

    def _on_bye(self, now: float) -> None:
        """A BYE before our final response: the INVITE gets 487 (RFC 3261 §15.1.2)."""
        if self.final_status is None:
            self._final(now, 487)

    # -- timers -------------------------------------------------------------------------

    def _more_deadlines(self) -> Iterable[float | None]:
        return (self._rel_next if self._unacked is not None else None,)

    def handle_timer(self, now: float) -> None:
        """Also retransmit an unacknowledged reliable 1xx; 64*T1 without PRACK rejects (§3)."""
        super().handle_timer(now)
        if self._unacked is None or now < self._rel_next:
            return
        if now >= self._rel_until:
            self._unacked = None
            self._final(now, 500, [("Retry-After", "1")])
            self.terminate(now, TERMINATED_PRACK_TIMEOUT, status=500)
            return
        self.host.send_response(self.invite_key, self._unacked, now)
        self._rel_interval *= 2
        self._rel_next = min(now + self._rel_interval, self._rel_until)

    def _on_terminated(self) -> None:
        self._unacked = None
        self._queued.clear()
        self._deferred_accept = None


class ClientSession(InviteSession):
    """One fork of our initial INVITE: an early dialog (PRACK for reliable 1xx) then confirmed."""

    def __init__(
        self,
        dialog: Dialog,
        invite: SipRequest,
        *,
        host: TransactionSender,
        peer: Peer,
        config: SessionConfig,
        random: Callable[[], float],
        events: deque[SessionEvent] | None = None,
    ) -> None:
        super().__init__(
            dialog,
            host=host,
            peer=peer,
            config=config,
            random=random,
            call_id_owner=True,
            events=events,
        )
        self.invite = invite
        self._last_rseq: int | None = None
        self._rack = ""
        self._early_answered = False
        if invite.body:
            self._offer = "local"
            self.local_sdp = invite.body

    def on_provisional(self, response: SipResponse, now: float) -> None:
        """A 1xx with our To tag: route set and target, and PRACK when sent reliably."""
        self.dialog.update_from_response(response)  # ClientInvite calls this while early only
        self.dialog.process(DialogInput.PROVISIONAL)
        self._note_allow(response)
        rseq_text = response.headers.get("rseq")
        if REL100 not in _option_tags(response, "require") or rseq_text is None:
            if response.body and self._offer == "local":
                self._emit(AnswerReceived(self.id, response.body, provisional=True))
            return
        rseq = int(rseq_text) if rseq_text.isdigit() else None
        if rseq is None or (self._last_rseq is not None and rseq != self._last_rseq + 1):
            return  # a retransmission, or out of order: neither PRACKed nor processed (§4)
        self._last_rseq = rseq
        self._rack = f"{rseq} {self.invite.cseq.seq} INVITE"
        body = response.body
        if body and self._offer == "local":
            self._early_answered = True
            self._take_answer(body)
        elif body and self._offer is None and not self._early_answered:
            self._early_answered = True
            self._take_offer(None, "prack", body, "INVITE")  # the PRACK carries our answer
            return
        self._send_prack(now, b"")

    def _send_prack(self, now: float, body: bytes) -> None:
        request = self.dialog.create_request("PRACK", headers=[("RAck", self._rack)], body=body)
        self._send(_Outgoing(request), now)

    def _send_prack_answer(self, now: float, body: bytes) -> None:
        self._send_prack(now, body)

    def on_success(self, response: SipResponse, now: float) -> None:
        """A 2xx to the initial INVITE: confirm, ACK (resent on retransmissions), timers."""
        seq = self.invite.cseq.seq
        if self._ack_seq == seq:
            if self._ack is not None:
                self.host.send_stateless(self._ack, self.peer)
            return
        if self.dialog.state is DialogState.EARLY:
            self.dialog.update_from_response(response)
        self.dialog.process(DialogInput.SUCCESS)
        self._note_allow(response)
        self._ack_seq = seq
        requested = self.config.session_timers.timers_sess_expires
        session_expires = self.invite.headers.get("session-expires")
        if session_expires is not None and session_expires.partition(";")[0].isdigit():
            requested = int(session_expires.partition(";")[0])
        self._restart_timer(response, requested, now, False)
        self._emit(DialogEstablished(self.id))
        if self._early_answered and not self.invite.body:
            self._send_ack(seq)
        else:
            self._complete_2xx(_Outgoing(self.invite), response)

    @property
    def acked_seq(self) -> int | None:
        """The CSeq of the INVITE whose 2xx we ACKed (or will, once answered), or None."""
        return self._ack_seq

    def on_failure(
        self, response: SipResponse | None, status: int, now: float, reason: str
    ) -> None:
        """The INVITE failed (or was cancelled): the early dialog ends."""
        self.terminate(now, reason, status=status)


def new_invite(
    *,
    uri: str,
    from_address: str,
    to_address: str,
    from_tag: str,
    call_id: str,
    config: SessionConfig,
    seq: int = 1,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
) -> SipRequest:
    """An initial INVITE (RFC 3261 §8.1.1) with our Contact; the layer adds the branch."""
    fields = SipHeaders()
    fields.add("Via", config.via)
    fields.add("Max-Forwards", "70")
    fields.add("From", f"{from_address};tag={from_tag}")
    fields.add("To", to_address)
    fields.add("Call-ID", call_id)
    fields.add("CSeq", f"{seq} INVITE")
    fields.add("Contact", f"<{config.contact}>")
    for name, value in headers:
        fields.add(name, value)
    if body:
        fields.add("Content-Type", "application/sdp")
    return SipRequest("INVITE", uri, fields, body)


def _with_options(request: SipRequest, config: SessionConfig, interval: int | None) -> SipRequest:
    """``request`` with our Allow, Supported, Require and session-timer fields added."""
    fields = request.headers
    if "allow" not in fields:
        fields.add("Allow", config.allow)
    supported = config.supported
    if supported and "supported" not in fields:
        fields.add("Supported", ", ".join(supported))
    require = []
    if config.rel100 == "required":
        require.append(REL100)
    for name, value in request_headers(config.session_timers, interval):
        if name == "Require":
            require.append(value)
        elif name != "Supported":
            fields.set(name, value)
    if require:
        fields.set("Require", ", ".join(require))
    return request


class ClientInvite:
    """The UAC of an initial INVITE: forks, CANCEL, 422 retry, one session per remote tag."""

    def __init__(
        self,
        request: SipRequest,
        *,
        host: TransactionSender,
        peer: Peer,
        config: SessionConfig,
        random: Callable[[], float],
        events: deque[SessionEvent] | None = None,
    ) -> None:
        self.config = config
        self.host = host
        self.peer = peer
        self._random = random
        timers = config.session_timers
        self._interval: int | None = timers.timers_sess_expires if timers.enabled else None
        self.request = _with_options(request, config, self._interval)
        self.key: TransactionKey | None = None
        self.cancel_key: TransactionKey | None = None
        self.final_status: int | None = None
        self.sessions: dict[str, ClientSession] = {}
        """One session per remote tag (forking, RFC 3261 §13.2.2.4)."""
        self.answered_by: str | None = None
        """The remote tag of the first 2xx."""
        self._events: deque[SessionEvent] = deque() if events is None else events
        self._provisional = False
        self._cancel_requested = False
        self._cancel_reason: Reason | None = None
        self._retries = 0

    def __repr__(self) -> str:
        return f"<ClientInvite {self.request.call_id} final={self.final_status}>"

    def start(self, now: float) -> TransactionKey:
        """Send the INVITE."""
        self.key = self.host.send_request(self.request, self.peer, now)
        return self.key

    def cancel(self, now: float, reason: Reason | None = None) -> None:
        """CANCEL the INVITE (RFC 3261 §9.1), once a provisional response has arrived.

        ``reason`` goes in a Reason header (RFC 3326). Does nothing once a final response
        came: a 2xx that crosses the CANCEL is ACKed and then ended with BYE.
        """
        if self.final_status is not None or self._cancel_requested:
            return
        self._cancel_requested = True
        self._cancel_reason = reason
        if self._provisional:
            self._send_cancel(now)

    def _send_cancel(self, now: float) -> None:
        cancel = make_cancel(self.request)
        if self._cancel_reason is not None:
            cancel.headers.add("Reason", str(self._cancel_reason))
        self.cancel_key = self.host.send_request(cancel, self.peer, now)

    # -- inputs -------------------------------------------------------------------------

    def receive(self, event: Event, now: float) -> None:
        """Feed a transaction-layer event for the INVITE, its CANCEL, or one of its dialogs."""
        if isinstance(event, ResponseReceived | TransactionTimedOut | TransactionFailed):
            if event.key == self.key:
                if event.response is not None:
                    self._on_response(event.response, now)
                return
            for fork in self.sessions.values():
                if fork.owns(event.key):
                    fork.receive(event, now)
                    return
            return  # the CANCEL's own response, or a stray
        if isinstance(event, RequestReceived | AckReceived | CancelReceived):
            session = self.sessions.get(event.request.from_tag or "")
            if session is not None:
                session.receive(event, now)

    def _on_response(self, response: SipResponse, now: float) -> None:
        status = response.status
        tag = response.to_tag
        if status < 200:
            self._on_provisional(response, tag, now)
        elif status < 300:
            if tag is not None:
                self._on_success(response, tag, now)
        elif self.final_status is None:
            self._on_failure(response, now)

    def _session(self, response: SipResponse, tag: str) -> tuple[ClientSession, bool]:
        session = self.sessions.get(tag)
        if session is not None:
            return session, False
        dialog = Dialog.from_uac(
            self.request, response, local_target=self.config.contact, via=self.config.via
        )
        session = ClientSession(
            dialog,
            self.request,
            host=self.host,
            peer=self.peer,
            config=self.config,
            random=self._random,
            events=self._events,
        )
        self.sessions[tag] = session
        return session, True

    def _on_provisional(self, response: SipResponse, tag: str | None, now: float) -> None:
        first = not self._provisional
        self._provisional = True
        if first and self._cancel_requested:
            self._send_cancel(now)
        if tag is None or self.final_status is not None:
            self._events.append(ProvisionalReceived(None, response))
            return
        session, created = self._session(response, tag)
        if created:
            self._events.append(EarlyDialogCreated(session.id))
        self._events.append(ProvisionalReceived(session.id, response))
        if not session.terminated:
            session.on_provisional(response, now)

    def _on_success(self, response: SipResponse, tag: str, now: float) -> None:
        if self.final_status is None:
            self.final_status = response.status
        ended = self.sessions.get(tag)
        if ended is not None and ended.terminated and ended.acked_seq is None:
            del self.sessions[tag]  # an early dialog we ended: its 2xx is ACKed, then BYE
        session, _ = self._session(response, tag)
        if session.terminated:
            session.on_success(response, now)  # resends the ACK of a retransmitted 2xx
            return
        session.on_success(response, now)
        if self.answered_by is None:
            self.answered_by = tag
            for other in self.sessions.values():
                if other is not session and other.dialog.state is DialogState.EARLY:
                    other.terminate(now, TERMINATED_OTHER_FORK)
            if self._cancel_requested:
                session.terminate(now, TERMINATED_CANCELLED, send_bye=True)
        elif self.answered_by != tag:
            session.terminate(now, TERMINATED_OTHER_FORK, send_bye=True)

    def _on_failure(self, response: SipResponse, now: float) -> None:
        status = response.status
        if status == 422 and self._retries < MAX_422_RETRIES and not self._cancel_requested:
            self._retry_422(response, now)
            return
        self.final_status = status
        reason = TERMINATED_CANCELLED if self._cancel_requested else TERMINATED_REJECTED
        for session in self.sessions.values():
            session.on_failure(response, status, now, reason)
        self._events.append(InviteFailed(status, response))

    def _retry_422(self, response: SipResponse, now: float) -> None:
        """Send the INVITE again with the 422's Min-SE (RFC 4028 §7.4): new CSeq and branch."""
        self._retries += 1
        interval = interval_after_422(self.config.session_timers, response, self._interval or 0)
        self._interval = interval
        fields = self.request.headers.copy()
        fields.set("Via", self.config.via)
        fields.set("CSeq", f"{self.request.cseq.seq + 1} INVITE")
        fields.set("Session-Expires", str(interval))
        fields.set("Min-SE", str(interval))
        self.request = SipRequest("INVITE", self.request.uri_text, fields, self.request.body)
        self._provisional = False
        self.start(now)

    # -- outputs and timers -------------------------------------------------------------

    def next_event(self) -> SessionEvent | None:
        """The oldest event of the INVITE or any of its dialogs, or None."""
        return self._events.popleft() if self._events else None

    def next_deadline(self) -> float | None:
        """The earliest deadline of the forks' sessions, or None."""
        deadlines = [
            deadline
            for session in self.sessions.values()
            if (deadline := session.next_deadline()) is not None
        ]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: float) -> None:
        """Fire the due timers of every fork."""
        for session in list(self.sessions.values()):
            session.handle_timer(now)
