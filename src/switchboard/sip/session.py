"""INVITE sessions (RFC 3261 §13-§15, RFC 3311, RFC 4028): what both sides of a dialog share.

Theory of operation. Sans-I/O like the transaction layer below it: a session takes the
layer's events (:meth:`InviteSession.receive`) and commands from the call engine
(``reinvite``, ``update``, ``answer``, ``bye``, ...), each with ``now``; it sends through
a :class:`TransactionSender` (the :class:`TransactionLayer` is one), queues
:mod:`session events <switchboard.sip.session_events>` for :meth:`next_event`, and keeps
its own timers, reported by :meth:`next_deadline` and fired by :meth:`handle_timer`.

:class:`InviteSession` holds one dialog's usage once it exists: re-INVITE and UPDATE
offer/answer with glare (491, and the §14.1 retry delay; 500 with Retry-After while the
peer's own offer is unanswered), the 2xx retransmitted until the ACK (§13.3.1.4: T1
doubling up to T2, BYE after 64*T1) and the ACK resent for a retransmitted 2xx, BYE,
session refresh and expiry (RFC 4028), and other in-dialog requests passed up. The
initial INVITE is handled by :mod:`session_uas <switchboard.sip.session_uas>` and
:mod:`session_uac <switchboard.sip.session_uac>`; :mod:`session_router
<switchboard.sip.session_router>` routes the layer's events to sessions.

SDP bodies are opaque bytes here: the ``sdp`` package reads and writes them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from switchboard.sip.dialog import (
    TARGET_REFRESH_METHODS,
    TERMINATED,
    Dialog,
    DialogId,
    DialogInput,
    DialogState,
)
from switchboard.sip.errors import LocalProtocolError, RemoteProtocolError
from switchboard.sip.headers import MAX_CSEQ, parse_number
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
    Acknowledged,
    AnswerReceived,
    DialogTerminated,
    InDialogRequestReceived,
    InDialogResponseReceived,
    OfferReceived,
    OfferRejected,
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
    supported_header: str = field(init=False, repr=False, compare=False)
    """The Supported field's value ("" for none), made once: most messages we send carry it."""

    def __post_init__(self) -> None:
        """Refuse an unknown ``100rel`` value."""
        if self.rel100 not in REL100_MODES:
            raise ValueError(f"Expected 100rel in {REL100_MODES}, found {self.rel100!r}")
        object.__setattr__(self, "supported_header", ", ".join(self.supported))

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


def option_tags(message: SipMessage, name: str) -> set[str]:
    """The option-tags of Supported or Require, lower-cased; none when the list is malformed."""
    try:
        return {tag.lower() for tag in message.headers.get_all(name)}
    except RemoteProtocolError:
        return set()


def parse_rack(value: str) -> tuple[int, int, str] | None:
    """``RAck: response-num CSeq-num Method`` (RFC 3262 §7.2), None when malformed."""
    parts = value.split()
    if len(parts) != 3:
        return None
    rseq = parse_number(parts[0], MAX_CSEQ)
    seq = parse_number(parts[1], MAX_CSEQ)
    if rseq is None or seq is None:
        return None
    return rseq, seq, parts[2]


@dataclass(slots=True)
class Outgoing:
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
        self.id: DialogId = dialog.id
        """The dialog's id (fixed for the dialog's life, so kept here rather than looked up)."""
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
        self._outgoing: dict[TransactionKey, Outgoing] = {}
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
        self._retry: Outgoing | None = None
        self._retry_at: float | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dialog!r}>"

    @property
    def terminated(self) -> bool:
        """Whether the dialog (and so the session) has ended."""
        return self.dialog.state is TERMINATED

    # -- outputs ------------------------------------------------------------------------

    def next_event(self) -> SessionEvent | None:
        """The oldest event not yet returned, or None."""
        return self._events.popleft() if self._events else None

    def _emit(self, event: SessionEvent) -> None:
        self._events.append(event)

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` must next be called, or None (asked after every
        message a session sees, so it compares in place instead of collecting a list)."""
        timer = self.timer  # SessionTimer.next_deadline, read in place
        best = timer.refresh_at if timer.refresh_at is not None else timer.expires_at
        if self._ok is not None and (best is None or self._ok_next < best):
            best = self._ok_next
        retry = self._retry_at
        if retry is not None and (best is None or retry < best):
            best = retry
        extra = self._extra_deadline()
        if extra is not None and (best is None or extra < best):
            best = extra
        return best

    def _extra_deadline(self) -> float | None:
        """A subclass's own deadline (the UAS's reliable provisional), or None."""
        return None

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
        self._send_offer(request.method, now, request.body, extra_headers(request), retry)

    def _refresh(self, now: float) -> None:
        """Refresh the session (RFC 4028 §7.4): UPDATE when the peer allows it, else re-INVITE."""
        self.timer.refresh_sent()
        if self._invite_client is not None or self._invite_server is not None or self._offer:
            self.timer.refresh_at = now + self.config.T2  # another exchange is under way
            return
        interval = self.timer.interval
        if "UPDATE" in self.peer_allow:
            out = Outgoing(self._build("UPDATE", interval), refresh=True, interval=interval)
        else:
            request = self._build("INVITE", interval, self.local_sdp)
            out = Outgoing(request, offer=bool(self.local_sdp), refresh=True, interval=interval)
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
        previous: Outgoing | None = None,
    ) -> TransactionKey:
        if self.terminated:
            raise LocalProtocolError(f"Cannot send {method} in a terminated dialog")
        if method == "INVITE" and (self._invite_client or self._invite_server):
            raise LocalProtocolError("An INVITE transaction is already under way (RFC 3261 §14.1)")
        if self._offer is not None:
            raise LocalProtocolError("An offer is already outstanding (RFC 3264 §4)")
        interval = self.timer.interval if self.timer.running else None
        out = Outgoing(
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
        if self.config.supported_header:
            fields.append(("Supported", self.config.supported_header))
        return self.dialog.create_request(
            method, headers=[*fields, *timer_fields, *headers], body=body
        )

    def _send(self, out: Outgoing, now: float) -> TransactionKey:
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
        return self._send(Outgoing(request), now)

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
        """Answer an in-dialog request passed up with :class:`InDialogRequestReceived`.

        A 2xx to a target refresh request (NOTIFY, REFER, SUBSCRIBE) takes its Contact.
        """
        if 200 <= status < 300 and request.method in TARGET_REFRESH_METHODS:
            self.dialog.refresh_target(request)
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
            self._send(Outgoing(self.dialog.create_request("BYE", headers=bye_headers)), now)
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

    def _reply_error(
        self, key: TransactionKey, request: SipRequest, error: RemoteProtocolError, now: float
    ) -> None:
        if error.request is None:
            error.request = request  # a grammar error raised without the request
        response = error_response(error, self.dialog.local_tag)
        if response is not None:
            self.host.send_response(key, response, now)

    def _on_request(self, key: TransactionKey, request: SipRequest, now: float) -> None:
        if self.terminated:
            error = RemoteProtocolError(481, "Dialog terminated")
            self._reply_error(key, request, error, now)
            return
        try:
            self.dialog.check_request(request)
            check_require(request, self.config.supported)
        except RemoteProtocolError as exc:
            self._reply_error(key, request, exc, now)
            return
        method = request.method
        if method == "BYE":
            self._respond(key, 200, now, request=request)
            self._on_bye(now)
            reasons = reasons_of(request)
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
        error = RemoteProtocolError(481, "No reliable provisional")
        self._reply_error(key, request, error, now)

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
            self._reply_error(key, request, exc, now)
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
            self.peer_allow = {method.upper() for method in option_tags(message, "allow")}

    def _success_headers(self, key: TransactionKey, now: float) -> list[tuple[str, str]]:
        """Contact, Allow, Supported and Session-Expires for our 2xx; (re)starts the timer."""
        fields = [("Contact", f"<{self.dialog.local_target}>"), ("Allow", self.config.allow)]
        if self.config.supported_header:
            fields.append(("Supported", self.config.supported_header))
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
        else:
            self._emit(Acknowledged(self.id))

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

    def _on_offer_response(self, out: Outgoing, response: SipResponse, now: float) -> None:
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

    def _retry_with_interval(self, out: Outgoing, interval: int, now: float) -> None:
        request = out.request
        retry = Outgoing(
            self._build(request.method, interval, request.body, extra_headers(request)),
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

    def _complete_2xx(self, out: Outgoing, response: SipResponse) -> None:
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


def extra_headers(request: SipRequest) -> list[tuple[str, str]]:
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


def reasons_of(request: SipRequest) -> tuple[Reason, ...]:
    """The Reason values of a BYE or CANCEL; unreadable ones are ignored."""
    reasons: list[Reason] = []
    for value in request.headers.fields("reason"):
        try:
            reasons.extend(parse_reason(value))
        except RemoteProtocolError:
            continue
    return tuple(reasons)
