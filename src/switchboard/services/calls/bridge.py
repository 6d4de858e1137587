"""Joining two legs' media: codec choice for the dialled side, relay wiring, direct media.

The caller's codec is fixed when its INVITE is answered (its offer against its endpoint's
``allow=``). The dialled phone is offered its own ``allow=`` order with that codec first,
limited to what the relay can bridge: the same codec; the other G.711 law (transcoded by
table); between any two codecs media can encode (:data:`~switchboard.media.codecs.CODECS`:
G.711, G.722, Opus), a transcoder per direction (decode, resample, encode). Payload types
are renumbered where the two sides numbered a codec differently.
"""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.media.codecs import CODECS
from switchboard.media.g711 import ALAW_TO_ULAW_BYTES, ULAW_TO_ALAW_BYTES
from switchboard.media.relay import RelayLeg
from switchboard.media.transcode import RtpTranscoder
from switchboard.sdp.codecs import TELEPHONE_EVENT
from switchboard.sdp.model import SessionDescription
from switchboard.sdp.negotiate import NegotiatedCodec, NegotiatedStream

_TABLES = {("ulaw", "alaw"): ULAW_TO_ALAW_BYTES, ("alaw", "ulaw"): ALAW_TO_ULAW_BYTES}


def codec_key(codec: NegotiatedCodec) -> tuple[str, int, int]:
    """What makes two legs' codecs the same: name, clock rate, channels."""
    return (codec.name or codec.encoding_name.lower(), codec.clock_rate, codec.channels)


def callee_preferences(caller: NegotiatedCodec | None, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The codecs to offer a dialled phone: its ``allow=`` order, the caller's codec first,
    only those the relay can bridge to the caller's (all of them when the caller has none)."""
    if caller is None or caller.name is None:
        return allowed
    bridgeable = set(CODECS) if caller.name in CODECS else {caller.name}
    order = [caller.name] if caller.name in allowed else []
    order += [name for name in allowed if name in bridgeable and name not in order]
    return tuple(order)


def local_telephone_event(description: SessionDescription | None) -> int | None:
    """The payload type our own SDP gave 8 kHz telephone-event: what the phone sends with."""
    if description is None:
        return None
    for media in description.media:
        if media.media != "audio" or not media.port:
            continue
        for payload_type, rtpmap in media.rtpmaps.items():
            if rtpmap.encoding_name.lower() == TELEPHONE_EVENT and rtpmap.clock_rate == 8000:
                return payload_type
    return None


@dataclass(frozen=True, slots=True)
class MediaPlan:
    """How media crosses the relay between two negotiated legs."""

    caller: NegotiatedCodec
    callee: NegotiatedCodec
    transcodes: bool

    @property
    def same_numbers(self) -> bool:
        """Whether both phones can send to each other unchanged (direct media)."""
        return not self.transcodes and (
            self.caller.payload_type == self.callee.payload_type
            and self.caller.local_payload_type == self.callee.local_payload_type
        )


def plan(caller: NegotiatedStream, callee: NegotiatedStream) -> MediaPlan | None:
    """The codec each side uses; None when the relay cannot bridge them."""
    if not caller.codecs or not callee.codecs:
        return None
    ours, theirs = caller.codecs[0], callee.codecs[0]
    if codec_key(ours) == codec_key(theirs):
        return MediaPlan(ours, theirs, transcodes=False)
    if ours.name in CODECS and theirs.name in CODECS:
        return MediaPlan(ours, theirs, transcodes=True)
    return None


def point(leg: RelayLeg, stream: NegotiatedStream, symmetric: bool) -> None:
    """Aim ``leg`` at the phone's RTP and RTCP addresses from its SDP, with the SRTP keys
    it negotiated (or none)."""
    leg.secure(stream.srtp)
    if stream.remote_address is None:
        leg.set_remote(None, symmetric=symmetric)
        return
    leg.set_remote(
        (stream.remote_address, stream.remote_port),
        (stream.remote_address, stream.remote_rtcp_port),
        symmetric=symmetric,
        rtcp_mux=stream.rtcp_mux,
    )


def wire(
    caller: RelayLeg,
    callee: RelayLeg,
    media: MediaPlan,
    caller_events: tuple[int | None, int | None],
    callee_events: tuple[int | None, int | None],
) -> None:
    """Set the payload rewrites both ways between the caller's and the callee's relay
    legs; ``*_events`` are (what the phone sends DTMF with, what it expects DTMF with)."""
    for leg in (caller, callee):
        leg.rtp.rewrite.clear()
    for leg, ours, theirs in (
        (caller, media.caller, media.callee),
        (callee, media.callee, media.caller),
    ):
        _rewrite_audio(leg, ours, theirs, media.transcodes)
    caller.set_telephone_event(caller_events[0])
    callee.set_telephone_event(callee_events[0])
    for leg, (sends, _), (_, expects) in (
        (caller, caller_events, callee_events),
        (callee, callee_events, caller_events),
    ):
        if sends is not None and expects is not None and sends != expects:
            leg.map_payload(sends, expects)


def _rewrite_audio(
    leg: RelayLeg, ours: NegotiatedCodec, theirs: NegotiatedCodec, transcodes: bool
) -> None:
    """What ``leg``'s phone sends (``ours``) as the other phone expects it (``theirs``):
    renumbered, translated by a G.711 table, or through a transcoder of its own."""
    if not transcodes:
        if ours.local_payload_type != theirs.payload_type:
            leg.map_payload(ours.local_payload_type, theirs.payload_type)
        return
    table = _TABLES.get((ours.name or "", theirs.name or ""))
    if table is not None:
        leg.map_payload(ours.local_payload_type, theirs.payload_type, table)
        return
    source, target = CODECS[ours.name or ""], CODECS[theirs.name or ""]
    leg.transcode(ours.local_payload_type, RtpTranscoder(source, target, theirs.payload_type))
