"""The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, with RFC 6026 Accepted).

Proceeding resends the last provisional response when the INVITE is retransmitted. A
300-699 final response moves to Completed, where it is retransmitted on Timer G (T1,
doubling up to T2; unreliable transports only) until the ACK arrives or Timer H (64*T1)
gives up; Confirmed absorbs further ACKs until Timer I (T4; zero on reliable transports).
A 2xx moves to Accepted (RFC 6026 §7.1): INVITE retransmissions are absorbed, the TU's
own 2xx retransmissions are sent, and an ACK that matches goes to the TU, until Timer L.
"""

from __future__ import annotations

from typing import ClassVar, cast

from switchboard.sip.message import SipMessage, SipRequest, SipResponse
from switchboard.sip.transaction.events import (
    AckReceived,
    TransactionFailed,
    TransactionTimedOut,
)
from switchboard.sip.transaction.machine import Input, ServerTransaction, State, Transitions

PROCEEDING = State.PROCEEDING
COMPLETED = State.COMPLETED
CONFIRMED = State.CONFIRMED
ACCEPTED = State.ACCEPTED
TERMINATED = State.TERMINATED


class ServerInviteTransaction(ServerTransaction):
    """RFC 3261 Figure 7 as amended by RFC 6026 Figure 5."""

    __slots__ = ()

    INITIAL: ClassVar[State] = PROCEEDING
    STATES: ClassVar[tuple[State, ...]] = (PROCEEDING, COMPLETED, CONFIRMED, ACCEPTED, TERMINATED)
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input.RECV_REQUEST,
        Input.RECV_ACK,
        Input.SEND_1XX,
        Input.SEND_2XX,
        Input.SEND_300_699,
        Input.TIMER_G,
        Input.TIMER_H,
        Input.TIMER_I,
        Input.TIMER_L,
        Input.TRANSPORT_ERROR,
    )

    def _resend(self, now: float, message: SipMessage | None) -> None:
        """The INVITE was retransmitted: resend the last response, if any (§17.2.1)."""
        if self._data:
            self._host._transmit(self._data, self.peer)

    def _accept(self, now: float, message: SipMessage | None) -> None:
        """A 2xx from the TU: send it and stay in Accepted until Timer L (RFC 6026)."""
        self._send(now, message)
        self._shed()
        self._start(Input.TIMER_L, self.timers.TIMER_L, now)

    def _complete(self, now: float, message: SipMessage | None) -> None:
        """A 300-699 from the TU: send it, retransmit on Timer G until ACK or Timer H."""
        self._send(now, message)
        self._shed()
        if self.timers.retransmits:
            self._start(Input.TIMER_G, self.timers.TIMER_G, now)
        self._start(Input.TIMER_H, self.timers.TIMER_H, now)

    def _send_again(self, now: float, message: SipMessage | None) -> None:
        """The TU retransmits its 2xx in Accepted: sent, not kept (nothing here resends it)."""
        self._host._transmit(cast(SipResponse, message).serialize(), self.peer)

    def _retransmit(self, now: float, message: SipMessage | None) -> None:
        """Timer G: resend the final response, interval doubling up to T2."""
        self._host._transmit(self._data, self.peer)
        self._interval = min(2 * self._interval, self.timers.T2)
        self._start(Input.TIMER_G, self._interval, now)

    def _time_out(self, now: float, message: SipMessage | None) -> None:
        """Timer H: the ACK never came; tell the TU (§17.2.1)."""
        self._host._emit(TransactionTimedOut(self.key, "H", None))

    def _confirm(self, now: float, message: SipMessage | None) -> None:
        """The ACK for our 300-699: stop G and H, absorb further ACKs until Timer I."""
        self._stop(Input.TIMER_G, Input.TIMER_H)
        self._start(Input.TIMER_I, self.timers.TIMER_I, now)

    def _fail(self, now: float, message: SipMessage | None) -> None:
        """Transport error: the response could not be sent; tell the TU (§17.2.4)."""
        self._host._emit(TransactionFailed(self.key, None))

    def _ack_to_tu(self, now: float, message: SipMessage | None) -> None:
        """An ACK matched in Accepted goes to the TU (RFC 6026 §7.1)."""
        self._host._emit(AckReceived(self.key, cast(SipRequest, message), self.peer))


_s = ServerInviteTransaction
TRANSITIONS: Transitions = {
    (PROCEEDING, Input.RECV_REQUEST): (_s._resend, PROCEEDING),
    (PROCEEDING, Input.SEND_1XX): (_s._send, PROCEEDING),
    (PROCEEDING, Input.SEND_2XX): (_s._accept, ACCEPTED),
    (PROCEEDING, Input.SEND_300_699): (_s._complete, COMPLETED),
    (PROCEEDING, Input.TRANSPORT_ERROR): (_s._fail, TERMINATED),
    (COMPLETED, Input.RECV_REQUEST): (_s._resend, COMPLETED),
    (COMPLETED, Input.TIMER_G): (_s._retransmit, COMPLETED),
    (COMPLETED, Input.TIMER_H): (_s._time_out, TERMINATED),
    (COMPLETED, Input.RECV_ACK): (_s._confirm, CONFIRMED),
    (COMPLETED, Input.TRANSPORT_ERROR): (_s._fail, TERMINATED),
    (CONFIRMED, Input.RECV_ACK): (None, CONFIRMED),
    (CONFIRMED, Input.RECV_REQUEST): (None, CONFIRMED),
    (CONFIRMED, Input.TIMER_I): (None, TERMINATED),
    (ACCEPTED, Input.RECV_REQUEST): (None, ACCEPTED),
    (ACCEPTED, Input.SEND_2XX): (_s._send_again, ACCEPTED),
    (ACCEPTED, Input.RECV_ACK): (_s._ack_to_tu, ACCEPTED),
    (ACCEPTED, Input.TIMER_L): (None, TERMINATED),
}
ServerInviteTransaction.TRANSITIONS = TRANSITIONS
