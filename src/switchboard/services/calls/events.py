"""What the call engine reports on the bus: past-tense events, one per step of a call."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.core.events import Event


@dataclass(frozen=True, slots=True)
class CallStarted(Event):
    """An authenticated INVITE became a channel entering the dialplan."""

    uniqueid: str
    channel: str
    caller: str
    exten: str
    context: str


@dataclass(frozen=True, slots=True)
class CallRinging(Event):
    """A dialled channel rings (its phone sent 180 or 183); ``caller`` is the calling
    number it shows (what a CRM looks up), ``caller_name`` the name."""

    uniqueid: str
    channel: str
    caller: str = ""
    caller_name: str = ""


@dataclass(frozen=True, slots=True)
class CallAnswered(Event):
    """``channel`` answered; ``peer`` is the channel it is bridged to ("" when none)."""

    uniqueid: str
    channel: str
    peer: str


@dataclass(frozen=True, slots=True)
class CallHeld(Event):
    """``channel``'s phone put the call on hold (``held``) or resumed it."""

    uniqueid: str
    channel: str
    held: bool


@dataclass(frozen=True, slots=True)
class CallTransferred(Event):
    """``channel`` was transferred to ``target`` (``blind`` or ``attended``)."""

    uniqueid: str
    channel: str
    target: str
    kind_of_transfer: str


@dataclass(frozen=True, slots=True)
class CallEnded(Event):
    """The call is over: Q.850 ``cause``, Asterisk's ``disposition``, seconds of talk."""

    uniqueid: str
    channel: str
    cause: int
    disposition: str
    duration: int
    billsec: int


@dataclass(frozen=True, slots=True)
class CallQuality(Event):
    """An anchored call's audio so far, every few seconds while it lasts: what the relay
    received from the caller's and the callee's phone (MOS estimate 1..4.5, loss 0..1,
    RFC 3550 jitter in ms; -1 while that phone has sent nothing)."""

    uniqueid: str
    channel: str
    caller_mos: float
    caller_loss: float
    caller_jitter_ms: float
    callee_mos: float
    callee_loss: float
    callee_jitter_ms: float


@dataclass(frozen=True, slots=True)
class DtmfReceived(Event):
    """An RFC 4733 digit from ``channel``'s phone, seen by the relay."""

    uniqueid: str
    channel: str
    digit: str
    duration_ms: int
