"""The UAC of an initial INVITE (RFC 3261 §13.2, RFC 3262, RFC 3326, RFC 4028).

A :class:`ClientInvite` sends the INVITE and turns every remote tag that answers into a
:class:`ClientSession` (forking, §13.2.2.4): PRACK for reliable provisionals, the ACK for
each 2xx (resent when the 2xx is), BYE for a second fork that answers after the first. A
CANCEL waits for a provisional response (§9.1) and carries a Reason header; a 422 is
retried with the Min-SE it names.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from switchboard.sip.dialog import Dialog, DialogInput, DialogState
from switchboard.sip.errors import LocalProtocolError
from switchboard.sip.headers import MAX_CSEQ, SipHeaders, parse_number
from switchboard.sip.message import SipRequest, SipResponse
from switchboard.sip.peer import Peer
from switchboard.sip.reason import Reason
from switchboard.sip.session import (
    MAX_422_RETRIES,
    REL100,
    TERMINATED_CANCELLED,
    TERMINATED_OTHER_FORK,
    TERMINATED_REJECTED,
    InviteSession,
    Outgoing,
    SessionConfig,
    TransactionSender,
    option_tags,
)
from switchboard.sip.session_events import (
    AnswerReceived,
    DialogEstablished,
    EarlyDialogCreated,
    InviteFailed,
    ProvisionalReceived,
    SessionEvent,
)
from switchboard.sip.session_timer import interval_after_422, request_headers
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
        if REL100 not in option_tags(response, "require") or rseq_text is None:
            if response.body and self._offer == "local":
                self._emit(AnswerReceived(self.id, response.body, provisional=True))
            return
        rseq = parse_number(rseq_text.strip(), MAX_CSEQ)
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
        self._send(Outgoing(request), now)

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
        self._restart_timer(response, self.requested_interval, now, False)
        self._emit(DialogEstablished(self.id))
        if self._early_answered and not self.invite.body:
            self._send_ack(seq)
        else:
            self._complete_2xx(Outgoing(self.invite), response)

    @property
    def requested_interval(self) -> int:
        """The Session-Expires our INVITE asked for (the configured one if it had none)."""
        value = self.invite.headers.get("session-expires") or ""
        number = parse_number(value.partition(";")[0].strip(), MAX_CSEQ)
        return self.config.session_timers.timers_sess_expires if number is None else number

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
    # Our own fields go straight into the index under their canonical names, with one test
    # over all of them for a line break (seven checked adds were a tenth of the INVITE).
    index = {
        "via": [config.via],
        "max-forwards": ["70"],
        "from": [f"{from_address};tag={from_tag}"],
        "to": [to_address],
        "call-id": [call_id],
        "cseq": [f"{seq} INVITE"],
        "contact": [f"<{config.contact}>"],
    }
    own = "".join([values[0] for values in index.values()])
    if "\r" in own or "\n" in own:
        raise LocalProtocolError("Cannot build the INVITE: a line break in one of its fields")
    fields = SipHeaders(index)
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
    if config.supported_header and "supported" not in fields:
        fields.add("Supported", config.supported_header)
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
        self._cancel_deadline: float | None = None
        """64*T1 after our CANCEL: the INVITE is given up without its 487 (RFC 3261 §9.1)."""

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
        self._cancel_deadline = now + 64 * self.config.T1

    # -- inputs -------------------------------------------------------------------------

    def receive(self, event: Event, now: float) -> None:
        """Feed a transaction-layer event for the INVITE, its CANCEL, or one of its dialogs."""
        if isinstance(event, ResponseReceived | TransactionTimedOut | TransactionFailed):
            if event.key == self.key:
                if event.response is not None:
                    self._on_response(event.response, now)
                elif self.final_status is None:
                    self._on_failure(None, now, 503)  # the transport failed (RFC 3261 §8.1.3.1)
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

    def _on_failure(self, response: SipResponse | None, now: float, status: int = 0) -> None:
        status = status if response is None else response.status
        if (
            response is not None
            and status == 422
            and self._retries < MAX_422_RETRIES
            and not self._cancel_requested
        ):
            self._retry_422(response, now)
            return
        self.final_status = status
        self._cancel_deadline = None
        reason = TERMINATED_CANCELLED if self._cancel_requested else TERMINATED_REJECTED
        for session in self.sessions.values():
            session.on_failure(response, status, now, reason)
        request = self.request
        self._events.append(InviteFailed(status, response, request.call_id, request.from_tag or ""))

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
        best = self._cancel_deadline
        for session in self.sessions.values():
            deadline = session.next_deadline()
            if deadline is not None and (best is None or deadline < best):
                best = deadline
        return best

    def handle_timer(self, now: float) -> None:
        """Fire the due timers of every fork; give up a CANCELled INVITE never answered."""
        if self._cancel_deadline is not None and now >= self._cancel_deadline:
            self._on_failure(None, now, 487)
        for session in list(self.sessions.values()):
            session.handle_timer(now)
