"""The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with RFC 6026 Accepted).

Calling retransmits the INVITE on Timer A (T1, doubling) over unreliable transports
until a response or Timer B (64*T1). A 300-699 final response is ACKed here (the ACK
belongs to the transaction, §17.1.1.3) and its retransmissions re-ACKed in Completed
until Timer D. A 2xx moves to Accepted (RFC 6026 §7.2): every 2xx retransmission goes to
the TU, which ACKs it end to end, until Timer M.
"""

from __future__ import annotations

from typing import ClassVar, cast

from switchboard.sip.headers import SipHeaders, split_commas
from switchboard.sip.message import SipMessage, SipRequest, SipResponse, make_response
from switchboard.sip.transaction.events import (
    ResponseReceived,
    TransactionFailed,
    TransactionTimedOut,
)
from switchboard.sip.transaction.machine import Input, State, Transaction, Transitions

CALLING = State.CALLING
PROCEEDING = State.PROCEEDING
COMPLETED = State.COMPLETED
ACCEPTED = State.ACCEPTED
TERMINATED = State.TERMINATED


def top_via_value(request: SipRequest) -> str:
    """The first Via value of ``request`` exactly as written."""
    value = request.headers.get("via") or ""
    return split_commas(value)[0] if "," in value else value


def _mirror(request: SipRequest, method: str, to: SipMessage) -> SipRequest:
    """A ``method`` request sharing ``request``'s transaction identity (§9.1, §17.1.1.3).

    Request-URI, Call-ID, From, the CSeq number and Route come from ``request``, To from
    ``to``, and the one Via is ``request``'s top Via (same branch).
    """
    headers = SipHeaders()
    headers.add("Via", top_via_value(request))
    max_forwards = request.headers.get("max-forwards")
    if max_forwards is not None:
        headers.add("Max-Forwards", max_forwards)
    for name, source in (("From", request), ("To", to), ("Call-ID", request)):
        value = source.headers.get(name)
        if value is not None:
            headers.add(name, value)
    headers.add("CSeq", f"{request.cseq.seq} {method}")
    for value in request.headers.fields("route"):
        headers.add("Route", value)
    return SipRequest(method, request.uri_text, headers)


def make_ack(request: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK for a 300-699 response to ``request``, To taken from it (§17.1.1.3)."""
    return _mirror(request, "ACK", response)


def make_cancel(request: SipRequest) -> SipRequest:
    """The CANCEL for a pending ``request`` (§9.1): send it with the layer's send_request.

    It carries the INVITE's branch, so it starts its own client transaction that the
    far end matches to the INVITE's server transaction.
    """
    return _mirror(request, "CANCEL", request)


class ClientInviteTransaction(Transaction):
    """RFC 3261 Figure 5 as amended by RFC 6026 Figure 3."""

    __slots__ = ("_ack", "_data")

    INITIAL: ClassVar[State] = CALLING
    STATES: ClassVar[tuple[State, ...]] = (CALLING, PROCEEDING, COMPLETED, ACCEPTED, TERMINATED)
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input.RECV_1XX,
        Input.RECV_2XX,
        Input.RECV_300_699,
        Input.TIMER_A,
        Input.TIMER_B,
        Input.TIMER_D,
        Input.TIMER_M,
        Input.TRANSPORT_ERROR,
    )

    def start(self, now: float) -> None:
        """Send the INVITE and start Timer A (unreliable transports only) and Timer B."""
        self._data = self.request.serialize()
        self._ack = b""
        self._host._transmit(self._data, self.peer)
        if self.timers.retransmits:
            self._start(Input.TIMER_A, self.timers.TIMER_A, now)
        self._start(Input.TIMER_B, self.timers.TIMER_B, now)

    def _retransmit(self, now: float, message: SipMessage | None) -> None:
        """Timer A: resend the INVITE and double the interval (§17.1.1.2)."""
        self._host._transmit(self._data, self.peer)
        self._interval *= 2
        self._start(Input.TIMER_A, self._interval, now)

    def _time_out(self, now: float, message: SipMessage | None) -> None:
        """Timer B: tell the TU, with the 408 it treats the timeout as (§8.1.3.1)."""
        response = make_response(self.request, 408)
        self._host._emit(TransactionTimedOut(self.key, "B", response))

    def _fail(self, now: float, message: SipMessage | None) -> None:
        """Transport error: tell the TU, with the 503 it treats the failure as (§8.1.3.1)."""
        self._host._emit(TransactionFailed(self.key, make_response(self.request, 503)))

    def _pass_up(self, now: float, message: SipMessage | None) -> None:
        """A response for the TU; any response stops Timers A and B."""
        self._stop(Input.TIMER_A, Input.TIMER_B)
        response = cast(SipResponse, message)
        self.last_response = response
        self._host._emit(ResponseReceived(self.key, response, self.peer))

    def _accept(self, now: float, message: SipMessage | None) -> None:
        """A 2xx: pass it up and wait in Accepted for retransmissions until Timer M, keeping
        neither message: nothing is resent from here, and no failure is left to report."""
        self._pass_up(now, message)
        self._data = b""
        self._drop_messages()
        self._start(Input.TIMER_M, self.timers.TIMER_M, now)

    def _complete(self, now: float, message: SipMessage | None) -> None:
        """A 300-699: pass it up, ACK it, and keep re-ACKing until Timer D."""
        self._pass_up(now, message)
        ack = make_ack(self.request, cast(SipResponse, message)).serialize()
        self._ack = ack
        self._data = b""
        self._host._transmit(ack, self.peer)
        self._start(Input.TIMER_D, self.timers.TIMER_D, now)

    def _pass_on(self, now: float, message: SipMessage | None) -> None:
        """A retransmitted 2xx in Accepted: to the TU, which ACKs it end to end; not kept."""
        self._host._emit(ResponseReceived(self.key, cast(SipResponse, message), self.peer))

    def _resend_ack(self, now: float, message: SipMessage | None) -> None:
        """A retransmitted 300-699 in Completed: ACK again, not passed up."""
        self._host._transmit(self._ack, self.peer)


_c = ClientInviteTransaction
TRANSITIONS: Transitions = {
    (CALLING, Input.TIMER_A): (_c._retransmit, CALLING),
    (CALLING, Input.TIMER_B): (_c._time_out, TERMINATED),
    (CALLING, Input.TRANSPORT_ERROR): (_c._fail, TERMINATED),
    (CALLING, Input.RECV_1XX): (_c._pass_up, PROCEEDING),
    (CALLING, Input.RECV_2XX): (_c._accept, ACCEPTED),
    (CALLING, Input.RECV_300_699): (_c._complete, COMPLETED),
    (PROCEEDING, Input.RECV_1XX): (_c._pass_up, PROCEEDING),
    (PROCEEDING, Input.RECV_2XX): (_c._accept, ACCEPTED),
    (PROCEEDING, Input.RECV_300_699): (_c._complete, COMPLETED),
    (COMPLETED, Input.RECV_300_699): (_c._resend_ack, COMPLETED),
    (COMPLETED, Input.TIMER_D): (None, TERMINATED),
    (COMPLETED, Input.TRANSPORT_ERROR): (_c._fail, TERMINATED),
    (ACCEPTED, Input.RECV_2XX): (_c._pass_on, ACCEPTED),
    (ACCEPTED, Input.TIMER_M): (None, TERMINATED),
}
ClientInviteTransaction.TRANSITIONS = TRANSITIONS
