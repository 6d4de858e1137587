"""The call engine: authenticated INVITEs become channels that run the dialplan.

Theory of operation. The :class:`~switchboard.services.requests.RequestRouter` hands every
transaction event to :meth:`CallEngine.dispatch` first; the pure
:class:`~switchboard.sip.session_router.SessionRouter` takes what belongs to an INVITE
session and gives the rest back. A new INVITE goes to :meth:`CallEngine.invite`: digest
authentication exactly as for REGISTER (401, the same answer for unknown users), 404 when
the endpoint's context has no such extension, 400/488 for SDP that is malformed or shares
no codec, else a channel whose dialplan runs in one task (:mod:`.pbx`). Applications drive
the engine through its commands (:meth:`ring`, :meth:`answer`, :meth:`originate`,
:meth:`bridge`, :meth:`hangup`); each command ends in :meth:`_settle`, which delivers the
session events that followed, flushes the SIP stack and re-arms the one session timer.
Session events reach channels by dialog id (inbound) or Call-ID and From tag (dialled).

Media is anchored by default: each call owns one :class:`MediaRelay`, leg ``a`` for the
caller and ``b`` for whoever answers. With ``direct_media=yes`` on both endpoints, one
codec numbered alike on both sides and no NAT, both phones are re-INVITEd to send to each
other once the call is bridged; the relay stays allocated for the call's duration.

SRTP (``media_encryption=sdes``): each leg offers fresh keys (RTP/SAVP, or RTP/AVP with
``a=crypto`` when ``media_encryption_optimistic``), and the relay protects and unprotects
per leg, so an SRTP phone and a plain one can talk. Media with an SRTP leg stays anchored
(no direct media). SDES keys travel in the SDP, so they never go over UDP or TCP: an
INVITE whose offer carries ``a=crypto`` keys, or from an SDES endpoint, over such a
transport gets 488, and an SDES endpoint's contact there is not dialled, unless
switchboard.conf's ``[security] sdes_over_plain_transport`` allows it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from switchboard.config.loader import Config
from switchboard.config.pjsip import Endpoint
from switchboard.core.cdr import CallRecord
from switchboard.core.events import EventBus
from switchboard.dialplan.interpreter import ApplicationRegistry
from switchboard.dialplan.state import ChannelState
from switchboard.media.codecs import CODECS
from switchboard.media.dtmf import DtmfEnded, DtmfEvent
from switchboard.media.errors import MediaError
from switchboard.media.portpool import PortPool
from switchboard.media.relay import LegName, MediaRelay, RelayLeg
from switchboard.media.srtp import fresh_crypto
from switchboard.sdp.crypto import SRTP_PROTOS
from switchboard.sdp.errors import SdpError
from switchboard.sdp.model import Crypto, Direction, SessionDescription
from switchboard.sdp.negotiate import PLAIN_PROTOS, HoldState, LocalMedia, OfferAnswer
from switchboard.sdp.parse import SdpReader
from switchboard.services.authenticate import EndpointAuthenticator
from switchboard.services.calls.bridge import (
    MediaPlan,
    callee_preferences,
    local_telephone_event,
    plan,
    point,
    wire,
)
from switchboard.services.calls.causes import NORMAL_CLEARING, cause_for, sip_status_for
from switchboard.services.calls.channel import Channel, LegState, Listener
from switchboard.services.calls.events import (
    CallAnswered,
    CallEnded,
    CallHeld,
    CallRinging,
    CallStarted,
    DtmfReceived,
)
from switchboard.services.calls.quality import QualityReporter
from switchboard.services.calls.records import call_record
from switchboard.services.calls.transfers import Transfers
from switchboard.services.location import LocationService
from switchboard.services.replies import refusal, reply
from switchboard.services.security import Guard
from switchboard.sip.dialog import DialogId
from switchboard.sip.dtmf_info import dtmf_relay_digit
from switchboard.sip.errors import SipError
from switchboard.sip.message import SipRequest, SipResponse
from switchboard.sip.peer import Peer, TransportName
from switchboard.sip.reason import Reason, q850_reason
from switchboard.sip.session import REL100_MODES, SessionConfig
from switchboard.sip.session_events import (
    Acknowledged,
    AnswerReceived,
    DialogEstablished,
    DialogTerminated,
    InDialogRequestReceived,
    InviteFailed,
    OfferReceived,
    OfferRejected,
    ProvisionalReceived,
    SessionEvent,
)
from switchboard.sip.session_router import SessionRouter
from switchboard.sip.session_timer import SessionTimerConfig
from switchboard.sip.transaction.events import Event, RequestReceived, TransactionKey
from switchboard.sip.uri import sip_user_host
from switchboard.transport import entropy
from switchboard.transport.routes import host_port, local_address_for
from switchboard.transport.stack import SipStack

if TYPE_CHECKING:
    from switchboard.services.voicemail.service import VoicemailService

log = logging.getLogger(__name__)

RELAY_REPORT_INTERVAL = 2.0
"""Seconds between a relay's statistics folds: under load the per-call numpy folds cost
11 % of the relay's CPU at one a second (bench/calls.py profile); every 2 s halves that,
and RTCP reports come every 5 s anyway."""

ANSWERED_ELSEWHERE = Reason("SIP", 200, "Call completed elsewhere")
"""The Reason on the CANCEL of the other legs of a Dial that was answered (RFC 3326)."""

OPTIMISTIC_PROTOS = (*PLAIN_PROTOS, *SRTP_PROTOS)
"""``media_encryption_optimistic``: offer RTP/AVP with keys, accept SRTP or plain RTP."""
ENCRYPTED_TRANSPORTS = ("tls", "wss")

_HOLD_DIRECTION = {
    HoldState.ACTIVE: Direction.SENDRECV,
    HoldState.REMOTE_HOLD: Direction.SENDONLY,
    HoldState.INACTIVE: Direction.INACTIVE,
    HoldState.LOCAL_HOLD: Direction.SENDRECV,
}
"""What the bridged phone is offered when this one's stream becomes ``HoldState``."""

ChannelRunner = Callable[["CallEngine", Channel], "asyncio.Task[None]"]


def _clean_display(text: str) -> str:
    return text.replace("\\", "").replace('"', "").strip()


class CallEngine:
    """Every call of the server: channels by dialog, the session router and its timer."""

    def __init__(
        self,
        config: Config,
        bus: EventBus,
        *,
        authenticator: EndpointAuthenticator,
        location: LocationService,
        stack: SipStack,
        pool: PortPool,
        applications: ApplicationRegistry,
        guard: Guard | None = None,
        user_agent: str = "Switchboard",
    ) -> None:
        self.config = config
        self.pjsip = config.pjsip
        self.dialplan = config.extensions.dialplan
        self.bus = bus
        self.authenticator = authenticator
        self.location = location
        self.stack = stack
        self.loop = stack.loop
        self.pool = pool
        self.applications = applications
        self.guard = guard
        self.user_agent = user_agent
        self.router = SessionRouter(stack.layer)
        self.channels: dict[str, Channel] = {}
        self._inbound: dict[DialogId, Channel] = {}
        self._dialled: dict[tuple[str, str], Channel] = {}
        self._sequence = itertools.count(1)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._configs: dict[tuple[str, str, str], SessionConfig] = {}
        self._settling = False
        self.transfers = Transfers(self)
        self.runner: ChannelRunner | None = None
        """Starts a channel's dialplan task (``pbx.run_channel``), set by the composition."""
        self.voicemail: VoicemailService | None = None
        """The mailboxes, for the voicemail applications (set by the composition)."""
        self.on_call_ended: Callable[[CallRecord], None] | None = None
        """Takes the CDR of each finished call (the store saves it)."""
        self.quality = QualityReporter(self.channels, bus, self.loop)
        self.quality.start()

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded configuration: new calls see its endpoints and dialplan; calls
        in progress keep the endpoint and dialplan they started with."""
        self.config = config
        self.pjsip = config.pjsip
        self.dialplan = config.extensions.dialplan
        self._configs.clear()

    # -- entry points from the SIP stack ------------------------------------------------

    def dispatch(self, event: Event) -> Event | None:
        """Feed a transaction event to the sessions; returns it when it is not theirs (the
        router then left every session as it was, so there is nothing to settle)."""
        rest = self.router.dispatch(event, self.loop.time())
        if rest is None:
            self._settle()
        return rest

    def invite(self, event: RequestReceived) -> None:
        """A new INVITE: authenticate, check the number and SDP, start a channel."""
        request, peer = event.request, event.peer
        decision = self.authenticator.check(request, peer, time.time())
        refused = refusal(decision)
        if refused is not None:
            self._respond(event.key, request, *refused)
            return
        assert decision.endpoint is not None  # refusal() passes only an identified endpoint
        if self.guard is not None:
            self.guard.authenticated(peer.host)
        endpoint = decision.endpoint
        parts = sip_user_host(request.uri_text)
        exten = (parts[0] or "") if parts is not None else ""
        found = self.dialplan.find(endpoint.context, exten)
        if found is None or 1 not in found[1].steps:
            self._respond(event.key, request, 404)
            return
        offer: SessionDescription | None = None
        reader = SdpReader()
        if request.body:
            try:
                offer = reader.read(request.body)
            except SdpError as error:
                self._respond(event.key, request, error.status or 400, f"Bad SDP: {error}")
                return
        keys = offer is not None and any(media.crypto for media in offer.media)
        why = self._keys_refusal(endpoint, peer, offered=keys)
        if why is not None:
            log.warning(
                "INVITE from endpoint '%s' (Call-ID %s) refused with 488: %s (use a TLS "
                "transport, or allow it with [security] sdes_over_plain_transport = yes)",
                endpoint.name,
                request.call_id,
                why,
            )
            self._respond(event.key, request, 488, "SRTP keys need an encrypted transport")
            return
        now = self.loop.time()
        session = self.router.accept_invite(
            event,
            now,
            config=self._session_config(endpoint, peer),
            local_tag=entropy.pool.hex(4),
            random=random.random,
        )
        if session is None:
            self._settle()
            return
        channel = self._channel(endpoint, peer, inbound=True)
        channel.server = channel.session = session
        channel.remote_sdp = reader
        channel.exten = exten
        number, name = self._caller_id(endpoint, request)
        channel.caller_number, channel.caller_name = number, name
        channel.dialplan = ChannelState(
            channel=channel.name,
            uniqueid=channel.uniqueid,
            context=endpoint.context,
            exten=exten,
            caller_number=number,
            caller_name=name,
            globals=self.dialplan.globals,
            clock=time.time,
        )
        if offer is not None:
            channel.offer_answer.receive_offer(offer)
        self._inbound[session.id] = channel
        self.bus.publish(
            CallStarted(channel.uniqueid, channel.name, number, exten, endpoint.context)
        )
        if self.runner is not None:
            channel.task = self.runner(self, channel)
        self._settle()

    # -- commands for the applications --------------------------------------------------

    async def prepare_media(self, channel: Channel) -> int:
        """Open the call's relay and decide the caller's codec; 0, or the status to refuse
        the call with (488 nothing in common, 503 no free RTP port)."""
        relay = MediaRelay(
            self.pool,
            strictrtp=self.config.rtp.strictrtp,
            probation=self.config.rtp.probation,
            rtp_timeout=float(channel.endpoint.rtp_timeout),
            dtmf_timeout=self.config.rtp.dtmftimeout / 8000,
            report_interval=RELAY_REPORT_INTERVAL,
            on_dtmf=lambda leg, event: self.on_relay_dtmf(channel, leg, event),
            on_timeout=lambda leg: self.on_rtp_timeout(channel, leg),
        )
        try:
            await relay.start()
        except (OSError, MediaError) as error:
            log.warning("%s: %s", channel.name, error)
            return 503
        channel.relay = relay
        channel.media_leg = relay.a
        oa = channel.offer_answer
        oa.local_media = oa.local_media.moved(relay.a.port)
        if oa.pending_remote is not None:
            try:
                oa.answer()
            except SdpError as error:
                log.info("%s: offer refused: %s", channel.name, error)
                return 488
            channel.streams = oa.streams
            if channel.streams:
                point(relay.a, channel.streams[0], channel.endpoint.rtp_symmetric)
                relay.a.set_telephone_event(self.event_types(channel)[0])
                relay.a.detect_tones(*self._inband(channel))
        return 0

    def ring(self, channel: Channel, status: int = 180) -> None:
        """Send a provisional response (180 Ringing, 183 Session Progress) to the caller."""
        server = channel.server
        if server is None or server.final_status is not None or channel.hung_up:
            return
        if status == 180 and channel.state is LegState.RINGING:
            return
        if status == 180:
            channel.state = LegState.RINGING
        local = channel.offer_answer.local
        body = bytes(local) if status == 183 and local is not None else b""
        server.ring(self.loop.time(), status, body)
        self._settle()

    def answer(self, channel: Channel) -> None:
        """Answer an inbound channel 200 OK with our SDP (the answer, or an offer)."""
        server = channel.server
        if server is None or channel.up or channel.hung_up or server.final_status is not None:
            return
        oa = channel.offer_answer
        if oa.local is not None:
            body = bytes(oa.local)
        elif oa.pending_local is not None:
            body = bytes(oa.pending_local)
        else:
            body = bytes(oa.offer())
        server.accept(self.loop.time(), body, [("Server", self.user_agent)])
        channel.state = LegState.UP
        channel.answered_at = time.time()
        self.bus.publish(CallAnswered(channel.uniqueid, channel.name, ""))
        self._settle()

    def originate(self, caller: Channel, endpoint_name: str, listener: Listener) -> list[Channel]:
        """INVITE every registered contact of ``endpoint_name`` on behalf of ``caller``;
        the legs report to ``listener``. Empty when it has no contact (CHANUNAVAIL)."""
        relay = caller.relay
        if endpoint_name not in self.pjsip.endpoints or relay is None:
            log.warning("%s: no endpoint %r to dial", caller.name, endpoint_name)
            return []
        state = caller.dialplan
        number = (
            state.caller_number
            if state is not None and state.caller_number
            else caller.caller_number
        )
        name = state.caller_name if state is not None and state.caller_name else caller.caller_name
        codec = caller.streams[0].codecs[0] if caller.streams and caller.streams[0].codecs else None
        far = relay.b if caller.media_leg is not relay.b else relay.a
        return self.dial(
            endpoint_name,
            listener,
            relay=relay,
            far=far,
            preferences=callee_preferences(codec, self.pjsip.endpoints[endpoint_name].codecs),
            linkedid=caller.uniqueid,
            caller_id=(number, name),
            who=caller.name,
        )

    def dial(
        self,
        endpoint_name: str,
        listener: Listener,
        *,
        relay: MediaRelay,
        far: RelayLeg,
        preferences: tuple[str, ...],
        linkedid: str | None,
        caller_id: tuple[str, str],
        who: str = "",
    ) -> list[Channel]:
        """INVITE every registered contact of ``endpoint_name`` with media on ``far``,
        showing ``caller_id`` (number, name); a Dial's legs (``originate``) or a call the
        API originates (``linkedid`` None: each leg is a call of its own)."""
        endpoint = self.pjsip.endpoints.get(endpoint_name)
        if endpoint is None:
            log.warning("%s: no endpoint %r to dial", who, endpoint_name)
            return []
        if not preferences:
            log.warning("%s: %s shares no codec with the caller", who, endpoint.name)
            return []
        now = self.loop.time()
        legs: list[Channel] = []
        for aor in endpoint.aors:
            for contact in self.location.contacts(aor):
                transport: TransportName = contact.transport  # type: ignore[assignment]
                peer = Peer(
                    transport, contact.source_host, contact.source_port, contact.connection or None
                )
                why = self._keys_refusal(endpoint, peer, offered=False)
                if why is not None:
                    log.warning(
                        "%s: not dialling endpoint '%s' at %s: %s (use a TLS transport, or "
                        "allow it with [security] sdes_over_plain_transport = yes)",
                        who,
                        endpoint.name,
                        contact.uri,
                        why,
                    )
                    continue
                leg = self._channel(
                    endpoint, peer, inbound=False, port=far.port, preferences=preferences
                )
                leg.relay, leg.media_leg, leg.listener = relay, far, listener
                leg.linkedid = linkedid or leg.uniqueid
                leg.caller_number, leg.caller_name = caller_id
                config = self._session_config(endpoint, peer)
                request = self._dial_request(
                    endpoint=endpoint, uri=contact.uri, peer=peer, config=config, leg=leg
                )
                leg.invite = self.router.invite(
                    request, peer, now, config=config, random=random.random
                )
                self._dialled[(request.call_id, request.from_tag or "")] = leg
                legs.append(leg)
        self._settle()
        return legs

    def bridge(self, caller: Channel, callee: Channel) -> bool:
        """Join an answered dialled leg to its caller: media, then answer the caller.
        False when their media cannot be bridged (the caller is still answered)."""
        relay = caller.relay
        joined = False
        if relay is not None and caller.streams and callee.streams:
            media = plan(caller.streams[0], callee.streams[0])
            if media is not None and caller.media_leg is not None and callee.media_leg is not None:
                point(callee.media_leg, callee.streams[0], callee.endpoint.rtp_symmetric)
                ours, theirs = self.event_types(caller), self.event_types(callee)
                wire(caller.media_leg, callee.media_leg, media, ours, theirs)
                callee.media_leg.detect_tones(*self._inband(callee))
                joined = True
                if self._direct_media_allowed(caller, callee, media, (ours, theirs)):
                    caller.direct_media_with = callee
        caller.bridged, callee.bridged = callee, caller
        caller.last_peer = callee.name
        self.answer(caller)
        if caller.direct_media_with is not None and (caller.acknowledged or not caller.inbound):
            caller.direct_media_with = None
            self._direct_media(caller, callee)
        self.bus.publish(CallAnswered(caller.uniqueid, callee.name, caller.name))
        self._settle()
        return joined

    def hangup(self, channel: Channel, cause: int = NORMAL_CLEARING, status: int = 0) -> None:
        """End a leg: BYE once answered, CANCEL while a dialled leg rings, a final
        response (``status``, else the cause's) while an inbound one does."""
        if channel.hung_up:
            return
        now = self.loop.time()
        reason = q850_reason(cause) if cause else None
        session = channel.session
        try:
            if channel.inbound:
                server = channel.server
                if channel.up and session is not None and not session.terminated:
                    session.bye(now, reason)
                elif server is not None and server.final_status is None:
                    server.reject(now, status or sip_status_for(cause))
            elif channel.up and session is not None and not session.terminated:
                session.bye(now, reason)
            elif channel.invite is not None:
                channel.invite.cancel(now, reason)
        except SipError as error:
            log.info("%s: hanging up: %s", channel.name, error)
        self._finish(channel, cause)
        self._settle()

    def cancel_others(self, legs: list[Channel], answered: Channel) -> None:
        """CANCEL the dialled legs that lost the race, saying the call was answered elsewhere."""
        now = self.loop.time()
        for leg in legs:
            if leg is answered or leg.hung_up:
                continue
            if leg.invite is not None:
                leg.invite.cancel(now, ANSWERED_ELSEWHERE)
            self._finish(leg, 26)
        self._settle()

    def release(self, channel: Channel) -> None:
        """Forget an inbound channel whose dialplan is over; close its relay; report it
        (CallEnded on the bus, its CDR to ``on_call_ended``). Its link to the bridged leg
        goes too: the two legs refer to each other, and so would be freed only by the
        cyclic collector."""
        stats = None
        if channel.relay is not None:
            stats = channel.relay.media_stats()
            channel.relay.close()
        if channel.server is not None:
            self._inbound.pop(channel.server.id, None)
        elif channel.invite is not None:
            request = channel.invite.request
            self._dialled.pop((request.call_id, request.from_tag or ""), None)
        self.channels.pop(channel.name, None)
        record = call_record(channel, time.time(), stats)
        self.bus.publish(
            CallEnded(
                channel.uniqueid,
                channel.name,
                channel.cause,
                record.disposition,
                record.duration,
                record.billsec,
            )
        )
        if self.on_call_ended is not None:
            self.on_call_ended(record)
        channel.bridged = None

    # -- session events -----------------------------------------------------------------

    def _settle(self) -> None:
        """Deliver pending session events, send what they caused, re-arm the timer."""
        if self._settling:
            return
        self._settling = True
        events = self.router.events
        try:
            while events:
                event = events.popleft()
                handler = _SESSION_HANDLERS.get(type(event))
                if handler is None:
                    continue
                try:
                    channel = self._find(event)
                    if channel is not None:
                        handler(self, channel, event)
                except Exception:
                    log.exception("call engine failed on %s", type(event).__name__)
        finally:
            self._settling = False
        self.stack.flush()
        deadline = self.router.next_deadline()
        if deadline is None or (self._timer_at is not None and self._timer_at <= deadline):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self.router.handle_timer(self.loop.time())
        self._settle()

    def _find(self, event: SessionEvent) -> Channel | None:
        if type(event) is InviteFailed:
            return self._dialled.get((event.call_id, event.local_tag))
        dialog_id = event.dialog_id  # type: ignore[union-attr]
        if dialog_id is None:
            if isinstance(event, ProvisionalReceived):
                response = event.response
                return self._dialled.get((response.call_id, response.from_tag or ""))
            return None
        channel = self._inbound.get(dialog_id)
        if channel is None:
            channel = self._dialled.get((dialog_id.call_id, dialog_id.local_tag))
        return channel

    def _on_provisional_event(self, channel: Channel, event: ProvisionalReceived) -> None:
        self._on_provisional(channel, event.response)

    def _on_established(self, channel: Channel, event: DialogEstablished) -> None:
        if not channel.inbound and channel.invite is not None:
            channel.session = channel.invite.sessions.get(event.dialog_id.remote_tag)
            if not channel.hung_up:
                channel.state = LegState.UP
                channel.answered_at = time.time()
                channel.notify("answered")

    def _on_acknowledged(self, channel: Channel, event: Acknowledged) -> None:
        channel.acknowledged = True
        other = channel.direct_media_with
        if other is not None and not other.hung_up and not channel.hung_up:
            channel.direct_media_with = None
            self._direct_media(channel, other)

    def _on_failed(self, channel: Channel, event: InviteFailed) -> None:
        self._dialled.pop((event.call_id, event.local_tag), None)
        if self._finish(channel, cause_for(event.status)):
            channel.status = event.status
            channel.notify("ended")

    def _on_offer_rejected(self, channel: Channel, event: OfferRejected) -> None:
        channel.offer_answer.rollback()

    def _on_in_dialog_request(self, channel: Channel, event: InDialogRequestReceived) -> None:
        self._on_request(channel, event.key, event.request)

    def _on_provisional(self, channel: Channel, response: SipResponse) -> None:
        if channel.hung_up or response.status == 100:
            return
        if channel.state is not LegState.RINGING:
            channel.state = LegState.RINGING
            self.bus.publish(
                CallRinging(
                    channel.linkedid, channel.name, channel.caller_number, channel.caller_name
                )
            )
        channel.notify("ringing" if response.status == 180 else "progress")

    def _on_answer(self, channel: Channel, event: AnswerReceived) -> None:
        if event.provisional:
            return
        try:
            channel.offer_answer.receive_answer(channel.remote_sdp.read(event.body))
        except SdpError as error:
            log.info("%s: unusable SDP answer: %s", channel.name, error)
            return
        channel.streams = channel.offer_answer.streams
        other = channel.bridged
        if other is not None and channel.media_leg is not None and channel.streams:
            point(channel.media_leg, channel.streams[0], channel.endpoint.rtp_symmetric)
            if other.media_leg is not None and other.streams:
                self._wire(channel, other)

    def _wire(self, one: Channel, other: Channel) -> None:
        """Set the relay's rewrites between two bridged legs (after a re-INVITE)."""
        media = plan(one.streams[0], other.streams[0])
        if media is None or one.media_leg is None or other.media_leg is None:
            return
        wire(
            one.media_leg,
            other.media_leg,
            media,
            self.event_types(one),
            self.event_types(other),
        )

    def _on_terminated(self, channel: Channel, event: DialogTerminated) -> None:
        if channel.inbound:
            if channel.server is None or event.dialog_id != channel.server.id:
                return
            cause = next(
                (r.cause for r in event.reasons if r.protocol.upper() == "Q.850" and r.cause),
                NORMAL_CLEARING,
            )
            if self._finish(channel, cause):
                self._ended(channel)
            return
        session = channel.session
        if session is not None and session.id == event.dialog_id:
            self._dialled.pop((event.dialog_id.call_id, event.dialog_id.local_tag), None)
            if self._finish(channel, NORMAL_CLEARING):
                self._ended(channel)

    def _finish(self, channel: Channel, cause: int) -> bool:
        """Mark ``channel`` hung up; forget it here when no dialplan task will release it
        (a dialled leg, a leg handed over to another call). False if it already was."""
        if not channel.finish(cause):
            return False
        task = channel.task
        if task is None or task.done():
            self.channels.pop(channel.name, None)
            if channel.server is not None:
                self._inbound.pop(channel.server.id, None)
            if channel.invite is not None:
                request = channel.invite.request
                self._dialled.pop((request.call_id, request.from_tag or ""), None)
        return True

    def _ended(self, channel: Channel) -> None:
        """The phone hung up: tell whoever waits on the leg; stop the app it is running."""
        channel.notify("ended")
        channel.stop_app()

    def _on_offer(self, channel: Channel, event: OfferReceived) -> None:
        """A re-INVITE or UPDATE offer (hold, resume, a new address): answered from the
        relay with the same codec; the direction follows the offer's (RFC 3264 §8.4)."""
        if event.method == "INVITE" and channel.inbound and not channel.up:
            return  # the initial offer, answered by prepare_media
        session = channel.session
        if session is None:
            return
        now = self.loop.time()
        oa = channel.offer_answer
        before = oa.hold_state
        try:
            oa.receive_offer(channel.remote_sdp.read(event.body))
            answer = oa.answer()
        except SdpError as error:
            log.info("%s: offer refused: %s", channel.name, error)
            if oa.pending_remote is not None:
                oa.rollback()
            session.reject_offer(now, error.status or 488)
            return
        session.answer(now, bytes(answer))
        channel.streams = oa.streams
        if channel.media_leg is not None and channel.streams:
            point(channel.media_leg, channel.streams[0], channel.endpoint.rtp_symmetric)
        if oa.hold_state is not before:
            self._pass_hold(channel, oa.hold_state)

    def _pass_hold(self, channel: Channel, state: HoldState) -> None:
        """Hold or resume: re-INVITE the bridged phone so it stops (or resumes) sending."""
        other = channel.bridged
        session = other.session if other is not None else None
        if other is None or session is None or other.hung_up:
            return
        self.bus.publish(CallHeld(channel.linkedid, channel.name, state is not HoldState.ACTIVE))
        direction = _HOLD_DIRECTION.get(state, Direction.SENDRECV)
        try:
            offer = other.offer_answer.offer(direction)
        except SdpError as error:
            log.info("%s: cannot pass hold on: %s", other.name, error)
            return
        try:
            session.reinvite(self.loop.time(), bytes(offer))
        except SipError as error:
            log.info("%s: cannot pass hold on: %s", other.name, error)
            other.offer_answer.rollback()

    def _on_request(self, channel: Channel, key: TransactionKey, request: SipRequest) -> None:
        session = channel.session
        if session is None:
            return
        now = self.loop.time()
        if request.method == "INFO":
            session.respond(key, request, 200, now)
            digit = dtmf_relay_digit(request)
            if digit is not None:
                self._digit(channel, digit, 0)
        elif request.method == "REFER":
            status = self.transfers.on_refer(channel, request)
            session.respond(key, request, status, now)
            if status == 202:
                self.transfers.report_done(channel)
        else:
            session.respond(key, request, 501, now, headers=[("Allow", session.config.allow)])

    # -- media ----------------------------------------------------------------------------

    def event_types(self, channel: Channel) -> tuple[int | None, int | None]:
        """(what the phone sends DTMF with, what it expects DTMF with)."""
        stream = channel.streams[0] if channel.streams else None
        expects = stream.telephone_event if stream is not None else None
        oa = channel.offer_answer
        sends = local_telephone_event(oa.local) if expects is not None else None
        return sends, expects

    def _inband(self, channel: Channel) -> tuple[int | None, str]:
        """(the payload type to detect in-band DTMF in, its codec's name): ``dtmf_mode=inband``,
        or ``auto`` when the phone offered no telephone-event; (None, ...) otherwise."""
        stream = channel.streams[0] if channel.streams else None
        codec = stream.codecs[0] if stream is not None and stream.codecs else None
        mode = channel.endpoint.dtmf_mode
        wanted = mode == "inband" or (
            mode == "auto" and stream is not None and stream.telephone_event is None
        )
        if not wanted or codec is None or codec.name not in CODECS:
            return None, "ulaw"
        return codec.local_payload_type, codec.name

    def _direct_media_allowed(
        self,
        caller: Channel,
        callee: Channel,
        media: MediaPlan,
        events: tuple[tuple[int | None, int | None], tuple[int | None, int | None]],
    ) -> bool:
        """Asterisk's conditions: both endpoints allow it, the same codec numbered alike,
        DTMF numbered alike (``events``: each leg's :meth:`event_types`), no NAT between
        either phone and us; and no SRTP on either leg (each leg has its own keys: the
        relay decrypts and encrypts, so media stays anchored)."""
        if not (caller.endpoint.direct_media and callee.endpoint.direct_media):
            return False
        if caller.streams[0].srtp is not None or callee.streams[0].srtp is not None:
            return False
        if not media.same_numbers:
            return False
        ours, theirs = events
        if ours not in (theirs, theirs[::-1]):
            return False
        return not (self._behind_nat(caller) or self._behind_nat(callee))

    def _behind_nat(self, channel: Channel) -> bool:
        stream = channel.streams[0] if channel.streams else None
        return stream is None or stream.remote_address != channel.peer.host

    def _direct_media(self, caller: Channel, callee: Channel) -> None:
        """Re-INVITE each phone towards the other's RTP address."""
        log.info("%s: direct media with %s", caller.name, callee.name)
        now = self.loop.time()
        for here, there in ((caller, callee), (callee, caller)):
            stream = there.streams[0]
            session = here.session
            if session is None or stream.remote_address is None:
                continue
            oa = here.offer_answer
            saved = oa.local_media
            oa.local_media = saved.moved(stream.remote_port, stream.remote_address)
            try:
                offer = oa.offer()
            except SdpError as error:
                log.info("%s: no direct media: %s", here.name, error)
                oa.local_media = saved
                continue
            oa.local_media = saved
            try:
                session.reinvite(now, bytes(offer))
            except SipError as error:
                log.info("%s: no direct media: %s", here.name, error)
                oa.rollback()

    def on_relay_dtmf(self, owner: Channel, leg: LegName, event: DtmfEvent) -> None:
        """A digit from one of the relay's phones: to the application listening on that
        leg (``channel.digits``), and on the bus."""
        if not isinstance(event, DtmfEnded):
            return
        relay = owner.relay
        if relay is None and owner.bridged is not None:
            relay = owner.bridged.relay
        here = relay.leg(leg) if relay is not None else None
        source = next(
            (
                candidate
                for candidate in (owner, owner.bridged)
                if candidate is not None and candidate.media_leg is here
            ),
            owner if leg == "a" else owner.bridged,
        )
        if source is None:
            return
        self._digit(source, event.digit, int(event.duration_ms))

    def _digit(self, channel: Channel, digit: str, duration_ms: int) -> None:
        channel.digits.put_nowait(digit)
        if not channel.secret_digits:
            self.bus.publish(DtmfReceived(channel.linkedid, channel.name, digit, duration_ms))

    def on_rtp_timeout(self, channel: Channel, leg: LegName) -> None:
        """The relay heard nothing from one phone for ``rtp_timeout``: hang the call up."""
        log.info(
            "%s: no RTP from leg %s for %s s; hanging up",
            channel.name,
            leg,
            channel.endpoint.rtp_timeout,
        )
        if channel.task is not None and channel.in_app:
            self._finish(channel, NORMAL_CLEARING)
            self._send_bye(channel)
            channel.stop_app()

    def _send_bye(self, channel: Channel) -> None:
        """Send the BYE of a channel already marked hung up (RTP timeout)."""
        session = channel.session
        if session is not None and not session.terminated and channel.answered_at:
            session.bye(self.loop.time(), q850_reason(channel.cause))
        self._settle()

    # -- building blocks ----------------------------------------------------------------

    def _channel(
        self,
        endpoint: Endpoint,
        peer: Peer,
        *,
        inbound: bool,
        port: int = 0,
        preferences: tuple[str, ...] | None = None,
    ) -> Channel:
        """A new leg offering ``preferences`` (default: the endpoint's codecs) on ``port``."""
        sequence = next(self._sequence)
        name = f"PJSIP/{endpoint.name}-{sequence:08x}"
        crypto, protos = self._sdes(endpoint, peer)
        media = LocalMedia(
            address=self._media_address(endpoint, peer),
            port=port,
            preferences=endpoint.codecs if preferences is None else preferences,
            telephone_event=endpoint.dtmf_mode in ("rfc4733", "auto", "auto_info"),
            protos=protos,
            crypto=crypto,
        )
        oa = OfferAnswer(media, str(random.getrandbits(31)), 1)
        channel = Channel(
            self,
            name,
            uniqueid=f"{time.time():.0f}.{sequence}",
            endpoint=endpoint,
            peer=peer,
            offer_answer=oa,
            inbound=inbound,
        )
        channel.started_at = time.time()
        self.channels[name] = channel
        return channel

    def _keys_may_travel(self, peer: Peer) -> bool:
        """Whether SDES keys may be sent to or taken from ``peer``: over TLS, or anywhere
        when the admin allowed it."""
        return (
            peer.transport in ENCRYPTED_TRANSPORTS or self.config.security.sdes_over_plain_transport
        )

    def _keys_refusal(self, endpoint: Endpoint, peer: Peer, *, offered: bool) -> str | None:
        """Why a call with ``endpoint`` at ``peer`` must be refused, None if it need not:
        SDES keys on an unencrypted transport, in the phone's offer (``offered``) or in
        ours to an ``sdes`` endpoint (an optimistic one falls back to plain RTP instead)."""
        if self._keys_may_travel(peer):
            return None
        where = f"unencrypted {peer.transport.upper()}"
        if offered:
            return f"its offer carries SRTP keys (a=crypto) over {where}"
        if endpoint.media_encryption == "sdes" and not endpoint.media_encryption_optimistic:
            return f"media_encryption=sdes over {where} would expose the SRTP keys"
        return None

    def _sdes(self, endpoint: Endpoint, peer: Peer) -> tuple[tuple[Crypto, ...], tuple[str, ...]]:
        """A new leg's SRTP offer: fresh keys and the SRTP profiles, or none at all."""
        if endpoint.media_encryption != "sdes" or not self._keys_may_travel(peer):
            return (), PLAIN_PROTOS
        protos = OPTIMISTIC_PROTOS if endpoint.media_encryption_optimistic else SRTP_PROTOS
        return fresh_crypto(), protos

    def _local_host(self, peer: Peer) -> tuple[str, int]:
        """Our address and port as ``peer`` reaches us over its transport."""
        listening = self.stack.local_address(peer.transport)
        port = listening[1] if listening is not None else 5060
        host = listening[0] if listening is not None else ""
        if host in ("", "0.0.0.0", "::"):
            host = local_address_for(peer.host)
        return host, port

    def _media_address(self, endpoint: Endpoint, peer: Peer) -> str:
        transport = self.pjsip.transports.get(endpoint.transport) if endpoint.transport else None
        if transport is not None and transport.external_media_address:
            return transport.external_media_address
        return self._local_host(peer)[0]

    def _session_config(self, endpoint: Endpoint, peer: Peer) -> SessionConfig:
        host, port = self._local_host(peer)
        key = (endpoint.name, peer.transport, host)
        config = self._configs.get(key)
        if config is None:
            where = host_port(host, port)
            suffix = "" if peer.transport == "udp" else f";transport={peer.transport}"
            try:
                timers = SessionTimerConfig(
                    endpoint.timers, endpoint.timers_min_se, endpoint.timers_sess_expires
                )
            except ValueError:
                timers = SessionTimerConfig()
            rel100 = endpoint.rel100 if endpoint.rel100 in REL100_MODES else "yes"
            config = SessionConfig(
                contact=f"sip:switchboard@{where}{suffix}",
                via=f"SIP/2.0/{peer.transport.upper()} {where};rport",
                rel100=rel100,
                session_timers=timers,
            )
            self._configs[key] = config
        return config

    def _caller_id(self, endpoint: Endpoint, request: SipRequest) -> tuple[str, str]:
        """The caller's number and name: the endpoint's ``callerid``, else the From header."""
        if endpoint.callerid is not None:
            return endpoint.callerid.number, endpoint.callerid.name
        try:
            sender = request.from_
        except SipError:
            return endpoint.name, ""
        parts = sip_user_host(sender.uri)
        number = (parts[0] or "") if parts is not None else ""
        return number or endpoint.name, _clean_display(sender.display_name or "")

    def _dial_request(
        self,
        *,
        endpoint: Endpoint,
        uri: str,
        peer: Peer,
        config: SessionConfig,
        leg: Channel,
    ) -> SipRequest:
        """The INVITE of a dialled leg, showing the leg's caller ID."""
        from switchboard.sip.session_uac import new_invite

        number, name = leg.caller_number, leg.caller_name
        host, port = self._local_host(peer)
        where = host_port(host, port)
        display = f'"{_clean_display(name)}" ' if name else ""
        offer = leg.offer_answer.offer()
        return new_invite(
            uri=uri,
            from_address=f"{display}<sip:{number}@{where}>",
            to_address=f"<sip:{endpoint.name}@{host_port(peer.host, peer.port)}>",
            from_tag=entropy.pool.hex(4),
            call_id=f"{entropy.pool.hex(12)}@{host}",
            config=config,
            body=bytes(offer),
            headers=[("User-Agent", self.user_agent)],
        )

    def _respond(
        self,
        key: TransactionKey,
        request: SipRequest,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        response = reply(request, status, reason, headers or (), server=self.user_agent)
        self.stack.send_response(key, response)

    def show_channels(self) -> list[tuple[str, str, str, str]]:
        """``core show channels``: every live leg, its state, app and peer."""
        return [
            (
                channel.name,
                channel.state.value,
                f"{channel.last_app}({channel.last_data})" if channel.in_app else "",
                channel.bridged.name if channel.bridged is not None else "",
            )
            for channel in self.channels.values()
        ]

    def request_hangup(self, name: str) -> int:
        """``channel request hangup NAME|all``: hang those legs up; how many there were."""
        targets = [c for c in self.channels.values() if name in ("all", c.name)]
        for channel in targets:
            self.hangup(channel, NORMAL_CLEARING)
            channel.stop_app()
        return len(targets)

    async def close(self) -> None:
        """Hang every call up (the server stops) and wait for their dialplans to end."""
        tasks = []
        for channel in list(self.channels.values()):
            task = channel.task
            self.hangup(channel, NORMAL_CLEARING, status=503)
            if task is not None and not task.done():
                task.cancel()
                tasks.append(task)
        if tasks:
            await asyncio.wait(tasks, timeout=2)
        if self._timer is not None:
            self._timer.cancel()
        self.quality.stop()

    def __len__(self) -> int:
        """Channels alive."""
        return len(self.channels)


_SESSION_HANDLERS: dict[type, Callable[[CallEngine, Channel, Any], None]] = {
    ProvisionalReceived: CallEngine._on_provisional_event,
    AnswerReceived: CallEngine._on_answer,
    DialogEstablished: CallEngine._on_established,
    Acknowledged: CallEngine._on_acknowledged,
    InviteFailed: CallEngine._on_failed,
    DialogTerminated: CallEngine._on_terminated,
    OfferReceived: CallEngine._on_offer,
    OfferRejected: CallEngine._on_offer_rejected,
    InDialogRequestReceived: CallEngine._on_in_dialog_request,
}
"""What the engine does with each kind of session event (a look-up by type, not a chain
of ``isinstance`` tests per event); the other kinds concern no channel."""
