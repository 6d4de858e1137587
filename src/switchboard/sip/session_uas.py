"""The UAS of an initial INVITE (RFC 3261 §13.3, RFC 3262): provisionals, PRACK, the 2xx, CANCEL.

Provisional responses are sent reliably (Require: 100rel, RSeq, retransmitted T1
doubling until the PRACK, the INVITE rejected 500 after 64*T1) when the endpoint's
``100rel`` option and the UAC's Supported/Require say so; one at a time, later ones and
the 2xx queued behind the unacknowledged one. The 2xx is retransmitted until the ACK by
:class:`~switchboard.sip.session.InviteSession`. A CANCEL gets 200 and the INVITE 487.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from switchboard.sip.dialog import Dialog, DialogInput
from switchboard.sip.errors import LocalProtocolError, RemoteProtocolError
from switchboard.sip.message import SipRequest, SipResponse, check_require, make_response
from switchboard.sip.session import (
    REL100,
    TERMINATED_CANCELLED,
    TERMINATED_PRACK_TIMEOUT,
    TERMINATED_REJECTED,
    InviteSession,
    SessionConfig,
    TransactionSender,
    option_tags,
    parse_rack,
    reasons_of,
)
from switchboard.sip.session_events import DialogEstablished, SessionEvent
from switchboard.sip.session_timer import uas_negotiate
from switchboard.sip.transaction.events import CancelReceived, RequestReceived, TransactionKey


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
        required = option_tags(request, "require")
        tags = option_tags(request, "supported") | required
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

    def _response(
        self,
        request: SipRequest,
        status: int,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str = "application/sdp",
    ) -> SipResponse:
        """Responses to the INVITE that create the dialog copy its Record-Route (§12.1.1)."""
        if request is self.invite and 100 < status < 300:
            record_route = [
                ("Record-Route", value) for value in request.headers.fields("record-route")
            ]
            headers = [*record_route, *headers]
        return super()._response(request, status, headers, body, content_type)

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
            reasons = reasons_of(event.request)
            self.terminate(now, TERMINATED_CANCELLED, status=487, reasons=reasons)

    def _on_bye(self, now: float) -> None:
        """A BYE before our final response: the INVITE gets 487 (RFC 3261 §15.1.2)."""
        if self.final_status is None:
            self._final(now, 487)

    # -- timers -------------------------------------------------------------------------

    def _extra_deadline(self) -> float | None:
        return self._rel_next if self._unacked is not None else None

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
