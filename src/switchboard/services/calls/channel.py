"""A channel: one SIP call leg (inbound or dialled) as the dialplan and the bridge see it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from switchboard.config.pjsip import Endpoint
from switchboard.sdp.negotiate import NegotiatedStream, OfferAnswer
from switchboard.sdp.parse import SdpReader
from switchboard.sip.peer import Peer
from switchboard.sip.session import InviteSession
from switchboard.sip.session_uac import ClientInvite
from switchboard.sip.session_uas import ServerSession

if TYPE_CHECKING:
    from switchboard.dialplan.state import ChannelState
    from switchboard.media.relay import MediaRelay, RelayLeg
    from switchboard.services.calls.engine import CallEngine


class LegState(Enum):
    """Asterisk's channel states, as ``core show channels`` prints them."""

    RING = "Ring"
    """An inbound call, not answered."""
    DOWN = "Down"
    """A dialled call before its phone reacted."""
    RINGING = "Ringing"
    UP = "Up"
    HUNGUP = "Hungup"


@dataclass(frozen=True, slots=True)
class Transfer:
    """What a transfer asks of the Dial bridging a channel: ``goto`` the target extension
    (the channel was blind-transferred), let its peer go ``away`` (the peer was transferred;
    this side ends), ``swap`` to a new ``peer`` (attended transfer: the transferer leaves,
    the peer it was talking to takes its place), or ``handover`` (this channel joins another
    call; the Dial ends without hanging it up)."""

    kind: str
    target: str = ""
    peer: Channel | None = None


Listener = Callable[["Channel", str], None]
"""What a Dial learns of its callees: ``ringing``, ``progress``, ``answered``, ``ended``."""


class Channel:
    """One leg: its SIP session, its offer/answer, its media leg, and how it ended."""

    def __init__(
        self,
        engine: CallEngine,
        name: str,
        *,
        uniqueid: str,
        endpoint: Endpoint,
        peer: Peer,
        offer_answer: OfferAnswer,
        inbound: bool,
    ) -> None:
        self.engine = engine
        self.name = name
        self.uniqueid = uniqueid
        self.linkedid = uniqueid
        """The call's id: the inbound channel's uniqueid, shared by the legs it dials."""
        self.endpoint = endpoint
        self.peer = peer
        self.offer_answer = offer_answer
        self.remote_sdp = SdpReader()
        """Reads the phone's SDP bodies in this dialog (a repeated session is not reparsed)."""
        self.inbound = inbound
        self.state = LegState.RING if inbound else LegState.DOWN
        self.session: InviteSession | None = None
        """The confirmed (or, inbound, the early) dialog; None before a dialled leg answers."""
        self.server: ServerSession | None = None
        self.invite: ClientInvite | None = None
        self.dialplan: ChannelState | None = None
        """Inbound channels only: what the dialplan sees (variables, caller ID)."""
        self.relay: MediaRelay | None = None
        self.media_leg: RelayLeg | None = None
        self.streams: tuple[NegotiatedStream, ...] = ()
        self.listener: Listener | None = None
        self.status = 0
        """The final SIP status of a dialled leg that failed (486, 408, ...)."""
        self.cause = 0
        """The Q.850 hangup cause, once hung up."""
        self.started_at = 0.0
        self.answered_at: float | None = None
        self.ended: asyncio.Future[int] = engine.loop.create_future()
        self._digits: asyncio.Queue[str] | None = None
        self.secret_digits = False
        """While an application reads a PIN: the keys reach it, but no DtmfReceived event is
        published for them, so a PIN never shows in the log or the event stream."""
        self.task: asyncio.Task[None] | None = None
        self.in_app = False
        """Whether the dialplan task is inside an application (a hangup stops it)."""
        self.app_awaits_end = False
        """Whether the application running returns by itself once :attr:`ended` resolves
        (a bridging Dial), so that a hangup need not cancel the dialplan task."""
        self.bridged: Channel | None = None
        self.transfer: asyncio.Future[Transfer] | None = None
        """Set by a bridging Dial; a REFER resolves it with what the Dial does next."""
        self.previous_relay: MediaRelay | None = None
        """The relay this channel owned before a transfer moved it to another call's."""
        self.handed_over = False
        """This channel's dialplan ends without hanging it up: a transfer bridged it
        into another call, which now hangs it up."""
        self.acknowledged = False
        """Whether the ACK of our 2xx arrived (a re-INVITE may be sent)."""
        self.direct_media_with: Channel | None = None
        """The leg to re-INVITE this one towards once the ACK comes (direct media)."""
        self.last_app = ""
        self.last_data = ""
        self.last_peer = ""
        """The last channel this one was bridged to (the CDR's dstchannel)."""
        self.caller_number = ""
        self.caller_name = ""
        self.exten = ""

    def __repr__(self) -> str:
        return f"<Channel {self.name} {self.state.value}>"

    @property
    def digits(self) -> asyncio.Queue[str]:
        """DTMF from this leg's phone (RFC 4733 or SIP INFO), for the application running;
        made on first use, since most legs never see a digit."""
        if self._digits is None:
            self._digits = asyncio.Queue()
        return self._digits

    @property
    def up(self) -> bool:
        """Whether the leg was answered and is not hung up."""
        return self.state is LegState.UP

    @property
    def hung_up(self) -> bool:
        """Whether the leg has ended."""
        return self.state is LegState.HUNGUP

    def notify(self, what: str) -> None:
        """Tell the Dial waiting on this leg what happened."""
        if self.listener is not None:
            self.listener(self, what)

    def stop_app(self) -> None:
        """The leg hung up: end the application running, by cancelling the dialplan task
        unless the application returns by itself (cancelling costs an exception and a
        traceback through every frame of the task)."""
        task = self.task
        if task is not None and self.in_app and not self.app_awaits_end:
            task.cancel()

    def finish(self, cause: int) -> bool:
        """Mark the leg hung up with ``cause``; False when it already was."""
        if self.hung_up:
            return False
        self.state = LegState.HUNGUP
        self.cause = cause
        if not self.ended.done():
            self.ended.set_result(cause)
        return True
