"""What the four RFC 3261 §17 transaction machines share: states, inputs, the table driver.

Theory of operation. Each machine is a transition table in the style of h2's
``stream.py``: ``{(state, input): (action, next_state)}``. :meth:`Transaction.process`
looks the pair up, moves to ``next_state`` and runs the action, which sends bytes, emits
events and (re)arms timers through the :class:`TransactionHost` (the layer). A pair that
is not in the table is a protocol error of whoever caused it (a stray response, a late
retransmission, a TU sending a response after the final one): it changes nothing and
``process`` returns False, so nothing ever raises out of the layer.

Timers are inputs like messages. A timer of zero duration (D, I, J, K on reliable
transports) fires at once, inside the action that started it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, ClassVar, Protocol

from switchboard.sip.headers import SipHeaders
from switchboard.sip.message import SipMessage, SipRequest, SipResponse
from switchboard.sip.peer import Peer
from switchboard.sip.transaction.events import Event, TransactionKey
from switchboard.sip.transaction.timers import TimerValues


class State(Enum):
    """Transaction states of RFC 3261 §17 and RFC 6026 (Accepted)."""

    __hash__ = object.__hash__  # members are singletons; Enum's hash is a Python call

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(Enum):
    """What drives a machine: received messages, TU responses, timers (RFC 3261 §17)."""

    __hash__ = object.__hash__  # members are singletons; Enum's hash is a Python call

    RECV_1XX = "1xx received"
    RECV_2XX = "2xx received"
    RECV_300_699 = "300-699 received"
    RECV_REQUEST = "request retransmission received"
    RECV_ACK = "ACK received"
    SEND_1XX = "1xx from TU"
    SEND_2XX = "2xx from TU"
    SEND_300_699 = "300-699 from TU"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"
    TRANSPORT_ERROR = "transport error"


def received_input(status: int) -> Input:
    """The input a received response of ``status`` is for a client machine."""
    if status < 200:
        return Input.RECV_1XX
    return Input.RECV_2XX if status < 300 else Input.RECV_300_699


def sent_input(status: int) -> Input:
    """The input a TU response of ``status`` is for a server machine."""
    if status < 200:
        return Input.SEND_1XX
    return Input.SEND_2XX if status < 300 else Input.SEND_300_699


class TransactionHost(Protocol):
    """What a machine needs from the layer that owns it: outbox, events, timers."""

    def _transmit(self, data: bytes, peer: Peer) -> None: ...

    def _emit(self, event: Event) -> None: ...

    def _arm(self, transaction: Transaction, timer: Input, now: float, duration: float) -> int: ...

    def _forget(self, transaction: Transaction) -> None: ...

    def _settle(self, transaction: ServerTransaction, now: float) -> bool: ...


Action = Callable[[Any, float, SipMessage | None], None]
Transitions = Mapping[tuple[State, Input], tuple[Action | None, State]]


class Transaction:
    """One transaction: its request, peer, state, armed timers, and the bytes it resends."""

    __slots__ = (
        "_armed",
        "_host",
        "_interval",
        "key",
        "last_response",
        "peer",
        "request",
        "state",
        "timers",
    )

    INITIAL: ClassVar[State]
    STATES: ClassVar[tuple[State, ...]]
    INPUTS: ClassVar[tuple[Input, ...]]
    TRANSITIONS: ClassVar[Transitions]

    def __init__(
        self,
        host: TransactionHost,
        key: TransactionKey,
        request: SipRequest,
        peer: Peer,
        timers: TimerValues,
    ) -> None:
        self._host = host
        self.key = key
        self.request = request
        self.peer = peer
        self.timers = timers
        self.state = self.INITIAL
        self.last_response: SipResponse | None = None
        self._armed: dict[Input, int] = {}
        self._interval = timers.T1

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.state.name} {self.key!r}>"

    def process(self, input_: Input, now: float, message: SipMessage | None = None) -> bool:
        """Apply ``input_``; False (and no change) when the table has no such transition."""
        entry = self.TRANSITIONS.get((self.state, input_))
        if entry is None:
            return False
        action, next_state = entry
        self.state = next_state
        if action is not None:
            action(self, now, message)
        if next_state is State.TERMINATED:
            self._armed.clear()
            self._host._forget(self)
        return True

    def fire(self, timer: Input, seq: int, now: float) -> None:
        """Run ``timer`` if ``seq`` is still its armed instance (lazy deletion)."""
        if self._armed.get(timer) == seq:
            del self._armed[timer]
            self.process(timer, now)

    def _start(self, timer: Input, duration: float, now: float) -> None:
        """Arm ``timer`` to fire ``duration`` from now; zero fires it at once (reliable)."""
        if duration <= 0:
            self.process(timer, now)
        else:
            self._armed[timer] = self._host._arm(self, timer, now, duration)

    def _stop(self, *timers: Input) -> None:
        """Disarm timers; their queued entries are skipped when they come up."""
        for timer in timers:
            self._armed.pop(timer, None)

    def _drop_messages(self) -> None:
        """Keep only what the lingering states use: the key, the peer, the request's method
        and URI, and whatever bytes a subclass resends. A UDP transaction lingers up to
        32 s after its final response (Timers J, L, M, D), and its two parsed messages
        were some thirty containers that every pass of the cyclic garbage collector
        walked."""
        request = self.request
        self.request = SipRequest(request.method, request.uri_text, SipHeaders())
        self.last_response = None

    @property
    def armed(self) -> frozenset[Input]:
        """The timers currently running (for tests and diagnostics)."""
        return frozenset(self._armed)


class ServerTransaction(Transaction):
    """What the two server machines share: they send only what the TU gives them, and
    keep the bytes of the last response to answer retransmitted requests with."""

    __slots__ = ("_data", "_tags")

    def start(self, now: float) -> None:
        """Nothing to send or arm until the TU responds (the layer may send 100 Trying)."""
        self._data = b""
        self._tags: tuple[str | None, ...] | None = None

    def to_tag_matches(self, tag: str | None) -> bool:
        """RFC 2543 matching compares To tags too: the request's, or our final response's."""
        if self._tags is not None:
            return tag in self._tags
        if tag == self.request.to_tag:
            return True
        response = self.last_response
        return response is not None and response.status >= 200 and tag == response.to_tag

    def _shed(self) -> None:
        """Once only retransmissions remain to be answered, keep what that needs: the
        response's bytes, and the To tags RFC 2543 matching compares (a key of three is
        RFC 3261 matching, on the branch alone)."""
        response = self.last_response
        if len(self.key) == 3:
            self._tags = ()
        else:
            final = response.to_tag if response is not None else None
            self._tags = (self.request.to_tag, final)
        self._drop_messages()

    def _send(self, now: float, message: SipMessage | None) -> None:
        """Send a TU response and keep its bytes for retransmission."""
        response: SipResponse = message  # type: ignore[assignment]  # not cast(): a call
        self.last_response = response
        self._data = response.serialize()
        self._host._transmit(self._data, self.peer)
