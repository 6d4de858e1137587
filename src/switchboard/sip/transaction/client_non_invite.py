"""The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

Trying retransmits the request on Timer E (T1, doubling up to T2) over unreliable
transports; after a provisional response, Proceeding retransmits every T2. Timer F
(64*T1) times out. A final response goes to the TU, and Completed absorbs its
retransmissions until Timer K (T4; zero on reliable transports).
"""

from __future__ import annotations

from typing import ClassVar, cast

from switchboard.sip.message import SipMessage, SipResponse, make_response
from switchboard.sip.transaction.events import (
    ResponseReceived,
    TransactionFailed,
    TransactionTimedOut,
)
from switchboard.sip.transaction.machine import Input, State, Transaction, Transitions

TRYING = State.TRYING
PROCEEDING = State.PROCEEDING
COMPLETED = State.COMPLETED
TERMINATED = State.TERMINATED


class ClientNonInviteTransaction(Transaction):
    """RFC 3261 Figure 6."""

    __slots__ = ("_data",)

    INITIAL: ClassVar[State] = TRYING
    STATES: ClassVar[tuple[State, ...]] = (TRYING, PROCEEDING, COMPLETED, TERMINATED)
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input.RECV_1XX,
        Input.RECV_2XX,
        Input.RECV_300_699,
        Input.TIMER_E,
        Input.TIMER_F,
        Input.TIMER_K,
        Input.TRANSPORT_ERROR,
    )

    def start(self, now: float) -> None:
        """Send the request and start Timer E (unreliable transports only) and Timer F."""
        self._data = self.request.serialize()
        self._host._transmit(self._data, self.peer)
        if self.timers.retransmits:
            self._start(Input.TIMER_E, self.timers.TIMER_E, now)
        self._start(Input.TIMER_F, self.timers.TIMER_F, now)

    def _retransmit(self, now: float, message: SipMessage | None) -> None:
        """Timer E in Trying: resend, interval doubles up to T2 (§17.1.2.2)."""
        self._host._transmit(self._data, self.peer)
        self._interval = min(2 * self._interval, self.timers.T2)
        self._start(Input.TIMER_E, self._interval, now)

    def _retransmit_proceeding(self, now: float, message: SipMessage | None) -> None:
        """Timer E in Proceeding: resend every T2."""
        self._host._transmit(self._data, self.peer)
        self._interval = self.timers.T2
        self._start(Input.TIMER_E, self._interval, now)

    def _time_out(self, now: float, message: SipMessage | None) -> None:
        """Timer F: tell the TU, with the 408 it treats the timeout as (§8.1.3.1)."""
        self._stop(Input.TIMER_E)
        response = make_response(self.request, 408)
        self._host._emit(TransactionTimedOut(self.key, "F", response))

    def _fail(self, now: float, message: SipMessage | None) -> None:
        """Transport error: tell the TU, with the 503 it treats the failure as (§8.1.3.1)."""
        self._host._emit(TransactionFailed(self.key, make_response(self.request, 503)))

    def _pass_up(self, now: float, message: SipMessage | None) -> None:
        """A provisional response for the TU; retransmissions go on."""
        response = cast(SipResponse, message)
        self.last_response = response
        self._host._emit(ResponseReceived(self.key, response, self.peer))

    def _complete(self, now: float, message: SipMessage | None) -> None:
        """A final response: stop E and F, pass it up, absorb copies until Timer K, keeping
        neither message."""
        self._stop(Input.TIMER_E, Input.TIMER_F)
        self._pass_up(now, message)
        self._data = b""
        self._drop_messages()
        self._start(Input.TIMER_K, self.timers.TIMER_K, now)


_c = ClientNonInviteTransaction
TRANSITIONS: Transitions = {
    (TRYING, Input.TIMER_E): (_c._retransmit, TRYING),
    (TRYING, Input.TIMER_F): (_c._time_out, TERMINATED),
    (TRYING, Input.TRANSPORT_ERROR): (_c._fail, TERMINATED),
    (TRYING, Input.RECV_1XX): (_c._pass_up, PROCEEDING),
    (TRYING, Input.RECV_2XX): (_c._complete, COMPLETED),
    (TRYING, Input.RECV_300_699): (_c._complete, COMPLETED),
    (PROCEEDING, Input.TIMER_E): (_c._retransmit_proceeding, PROCEEDING),
    (PROCEEDING, Input.TIMER_F): (_c._time_out, TERMINATED),
    (PROCEEDING, Input.TRANSPORT_ERROR): (_c._fail, TERMINATED),
    (PROCEEDING, Input.RECV_1XX): (_c._pass_up, PROCEEDING),
    (PROCEEDING, Input.RECV_2XX): (_c._complete, COMPLETED),
    (PROCEEDING, Input.RECV_300_699): (_c._complete, COMPLETED),
    (COMPLETED, Input.RECV_2XX): (None, COMPLETED),
    (COMPLETED, Input.RECV_300_699): (None, COMPLETED),
    (COMPLETED, Input.TIMER_K): (None, TERMINATED),
}
ClientNonInviteTransaction.TRANSITIONS = TRANSITIONS
