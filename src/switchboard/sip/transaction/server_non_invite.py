"""The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

Trying absorbs retransmitted requests until the TU responds; Proceeding resends the last
provisional response on each retransmission; Completed resends the final response until
Timer J (64*T1; zero on reliable transports). The server never retransmits on its own.
"""

from __future__ import annotations

from typing import ClassVar

from switchboard.sip.message import SipMessage
from switchboard.sip.transaction.events import TransactionFailed
from switchboard.sip.transaction.machine import Input, ServerTransaction, State, Transitions

TRYING = State.TRYING
PROCEEDING = State.PROCEEDING
COMPLETED = State.COMPLETED
TERMINATED = State.TERMINATED


class ServerNonInviteTransaction(ServerTransaction):
    """RFC 3261 Figure 8."""

    __slots__ = ()

    INITIAL: ClassVar[State] = TRYING
    STATES: ClassVar[tuple[State, ...]] = (TRYING, PROCEEDING, COMPLETED, TERMINATED)
    INPUTS: ClassVar[tuple[Input, ...]] = (
        Input.RECV_REQUEST,
        Input.SEND_1XX,
        Input.SEND_2XX,
        Input.SEND_300_699,
        Input.TIMER_J,
        Input.TRANSPORT_ERROR,
    )

    def _resend(self, now: float, message: SipMessage | None) -> None:
        """The request was retransmitted: resend the last response (§17.2.2)."""
        self._host._transmit(self._data, self.peer)

    def _fail(self, now: float, message: SipMessage | None) -> None:
        """Transport error: the response could not be sent; tell the TU (§17.2.4)."""
        self._host._emit(TransactionFailed(self.key, None))

    def _complete(self, now: float, message: SipMessage | None) -> None:
        """A final response: send it and answer retransmissions until Timer J. The layer
        may take over that wait, keeping only the response's bytes (``_settle``)."""
        self._send(now, message)
        if self._host._settle(self, now):
            return
        self._shed()
        self._start(Input.TIMER_J, self.timers.TIMER_J, now)


_s = ServerNonInviteTransaction
TRANSITIONS: Transitions = {
    (TRYING, Input.RECV_REQUEST): (None, TRYING),
    (TRYING, Input.SEND_1XX): (_s._send, PROCEEDING),
    (TRYING, Input.SEND_2XX): (_s._complete, COMPLETED),
    (TRYING, Input.SEND_300_699): (_s._complete, COMPLETED),
    (PROCEEDING, Input.RECV_REQUEST): (_s._resend, PROCEEDING),
    (PROCEEDING, Input.SEND_1XX): (_s._send, PROCEEDING),
    (PROCEEDING, Input.SEND_2XX): (_s._complete, COMPLETED),
    (PROCEEDING, Input.SEND_300_699): (_s._complete, COMPLETED),
    (PROCEEDING, Input.TRANSPORT_ERROR): (_s._fail, TERMINATED),
    (COMPLETED, Input.RECV_REQUEST): (_s._resend, COMPLETED),
    (COMPLETED, Input.TIMER_J): (None, TERMINATED),
    (COMPLETED, Input.TRANSPORT_ERROR): (_s._fail, TERMINATED),
}
ServerNonInviteTransaction.TRANSITIONS = TRANSITIONS
