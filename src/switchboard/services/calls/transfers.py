"""Transfers (RFC 3515 REFER, RFC 3891 Replaces) as the call engine carries them out.

A blind transfer ends the Dial bridging the two phones with a Goto (the callee transferred
the caller) or gives the dialled leg a dialplan task of its own (the caller transferred the
callee). An attended one bridges the two phones the transferer was talking to: the Dial
that owns one of them swaps its peer, or a task that only bridges takes both; whoever
joins is re-INVITEd into the surviving call's relay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote

from switchboard.dialplan.state import ChannelState
from switchboard.sdp.errors import SdpError
from switchboard.services.calls.causes import NORMAL_CLEARING
from switchboard.services.calls.channel import Channel, Transfer
from switchboard.services.calls.events import CallTransferred
from switchboard.sip.dialog import DialogId
from switchboard.sip.errors import SipError
from switchboard.sip.headers import NameAddress
from switchboard.sip.message import SipRequest
from switchboard.sip.uri import sip_user_host

if TYPE_CHECKING:
    from switchboard.services.calls.engine import CallEngine

log = logging.getLogger(__name__)


class Transfers:
    """The REFERs of one engine's calls."""

    def __init__(self, engine: CallEngine) -> None:
        self.engine = engine

    def on_refer(self, channel: Channel, request: SipRequest) -> int:
        """A blind transfer (RFC 3515) from ``channel``'s phone: the status for the REFER.

        The transferee (the phone bridged to it) goes to the Refer-To extension in the
        transferer's context: when it is the caller, its Dial ends with a Goto there; when
        it is the dialled phone, it gets a dialplan task of its own and the caller's side
        ends. With Replaces (RFC 3891) it is an attended transfer: see :meth:`_attended`.
        """
        if not channel.endpoint.allow_transfer:
            return 603
        target = self._refer_target(request)
        if target is None:
            return 400
        exten, replaces = target
        if replaces is not None:
            return self._attended(channel, replaces)
        return self.blind(channel, exten)

    def blind(self, channel: Channel, exten: str) -> int:
        """Send the phone bridged to ``channel`` to ``exten`` in ``channel``'s context (a
        REFER without Replaces, or the API): 202, 404 (no such extension) or 503."""
        transferee = channel.bridged
        owner = channel if channel.inbound else transferee
        if transferee is None or owner is None or owner.transfer is None or owner.transfer.done():
            return 503
        context = channel.endpoint.context
        found = self.engine.dialplan.find(context, exten)
        if found is None or 1 not in found[1].steps:
            return 404
        if owner is channel:
            self.adopt(transferee, context, exten)
            owner.transfer.set_result(Transfer("away"))
        else:
            owner.transfer.set_result(Transfer("goto", f"{context},{exten},1"))
        self.engine.bus.publish(CallTransferred(owner.linkedid, transferee.name, exten, "blind"))
        return 202

    def _refer_target(self, request: SipRequest) -> tuple[str, str | None] | None:
        """The extension a REFER names and its Replaces value; None if unreadable."""
        value = request.headers.get("refer-to")
        if value is None:
            return None
        try:
            uri = NameAddress.parse(value).uri
        except SipError:
            return None
        uri, _, headers = uri.partition("?")
        parts = sip_user_host(uri)
        if parts is None or not parts[0]:
            return None
        replaces = None
        for field in headers.split("&"):
            name, _, value = field.partition("=")
            if name.strip().lower() == "replaces":
                replaces = unquote(value)
        return parts[0], replaces

    def _attended(self, transferer: Channel, replaces: str) -> int:
        """An attended transfer: the phone bridged to ``transferer`` (the transferee) and
        the one bridged to the dialog Replaces names (the target) talk; both of the
        transferer's legs end. One of the two Dials goes on with a swapped peer when the
        transferee or the target owns it; otherwise the transferee gets a task that only
        bridges. Whoever joins is re-INVITEd to the surviving call's relay."""
        fields = [part.strip() for part in replaces.split(";")]
        params = dict(part.partition("=")[::2] for part in fields[1:])
        wanted = DialogId(fields[0], params.get("to-tag", ""), params.get("from-tag", ""))
        second = next(
            (ch for ch in self.engine.channels.values() if ch.session and ch.session.id == wanted),
            None,
        )
        if second is None or second is transferer:
            return 481
        transferee, target = transferer.bridged, second.bridged
        if transferee is None or target is None:
            return 503
        first_owner = transferer if transferer.inbound else transferee
        second_owner = second if second.inbound else target
        for owner in (first_owner, second_owner):
            if owner.transfer is None or owner.transfer.done():
                return 503
        assert first_owner.transfer is not None and second_owner.transfer is not None
        if first_owner is transferee:
            survivor, joiner, place = transferee, target, transferer
            survivor_owner, other_owner = first_owner, second_owner
        elif second_owner is target:
            survivor, joiner, place = target, transferee, second
            survivor_owner, other_owner = second_owner, first_owner
        else:
            survivor, joiner, place = transferee, target, transferer
            survivor_owner, other_owner = None, second_owner
        if not self._move_media(joiner, place):
            return 488
        survivor.bridged, joiner.bridged = joiner, survivor
        if survivor_owner is not None:
            assert survivor_owner.transfer is not None
            survivor_owner.transfer.set_result(Transfer("swap", peer=joiner))
        else:
            survivor.relay, transferer.relay = transferer.relay, None
            survivor.task = asyncio.get_running_loop().create_task(self._join(survivor, joiner))
            assert first_owner.transfer is not None
            first_owner.transfer.set_result(Transfer("away"))
        assert other_owner.transfer is not None
        if other_owner is joiner:
            joiner.handed_over = True
            other_owner.transfer.set_result(Transfer("handover"))
        else:
            other_owner.transfer.set_result(Transfer("away"))
        self.engine.bus.publish(
            CallTransferred(survivor.linkedid, transferee.name, target.name, "attended")
        )
        return 202

    def _move_media(self, joiner: Channel, place: Channel) -> bool:
        """Re-INVITE ``joiner`` to the relay leg ``place`` used; its old relay closes when
        no call owns it (the answer wires the new pair)."""
        leg, session = place.media_leg, joiner.session
        if leg is None or session is None or place.relay is None:
            return False
        oa = joiner.offer_answer
        old = joiner.relay
        oa.local_media = oa.local_media.moved(leg.port)
        try:
            offer = oa.offer()
            session.reinvite(self.engine.loop.time(), bytes(offer))
        except (SdpError, SipError) as error:
            log.info("%s: cannot move its media: %s", joiner.name, error)
            return False
        joiner.relay, joiner.media_leg = place.relay, leg
        place.media_leg = None
        if old is not place.relay:
            joiner.previous_relay = old
        return True

    def hand_over(self, channel: Channel) -> None:
        """The dialplan of a channel transferred into another call ended: close the relay
        it owned; the call it joined hangs it up and records it."""
        if channel.previous_relay is not None:
            channel.previous_relay.close()
            channel.previous_relay = None

    async def _join(self, one: Channel, other: Channel) -> None:
        """Bridge two legs no dialplan owns (both of a transferer's calls ended) until
        one hangs up, then hang up the other and record the call."""
        try:
            await asyncio.wait([one.ended, other.ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            cause = one.cause or other.cause or NORMAL_CLEARING
            self.engine.hangup(one, cause)
            self.engine.hangup(other, cause)
            self.engine.release(one)

    def report_done(self, channel: Channel) -> None:
        """Report the transfer's progress to the transferer (NOTIFY with a sipfrag): the
        transferee is in the dialplan, so the subscription ends at once with 200."""
        session = channel.session
        if session is None or session.terminated:
            return
        now = self.engine.loop.time()
        for fragment, state in (
            (b"SIP/2.0 100 Trying\r\n", "active;expires=60"),
            (b"SIP/2.0 200 OK\r\n", "terminated;reason=noresource"),
        ):
            session.request(
                "NOTIFY",
                now,
                headers=[("Event", "refer"), ("Subscription-State", state)],
                body=fragment,
                content_type="message/sipfrag;version=2.0",
            )

    def adopt(self, leg: Channel, context: str, exten: str) -> None:
        """Give a dialled leg a dialplan of its own (it was transferred to ``exten``, or
        answered a call the API originated); it takes over the call's relay, since the
        caller's side (if any) is about to end."""
        owner = leg.bridged
        if owner is not None:
            leg.relay, owner.relay = owner.relay, None
            owner.bridged = None
        leg.bridged = None
        leg.listener = None
        number = leg.endpoint.callerid.number if leg.endpoint.callerid else leg.endpoint.name
        name = leg.endpoint.callerid.name if leg.endpoint.callerid else ""
        leg.caller_number, leg.caller_name, leg.exten = number, name, exten
        leg.started_at = time.time()
        leg.answered_at = leg.started_at
        leg.dialplan = ChannelState(
            channel=leg.name,
            uniqueid=leg.uniqueid,
            context=context,
            exten=exten,
            caller_number=number,
            caller_name=name,
            globals=self.engine.dialplan.globals,
            clock=time.time,
        )
        if self.engine.runner is not None:
            leg.task = self.engine.runner(self.engine, leg)
