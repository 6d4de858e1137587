"""The offer/answer model (RFC 3264) as a state machine, and answer generation.

Theory of operation. One :class:`OfferAnswer` lives for one SIP dialog (one session) on
one side. Its state is a transition table in the style of h2's ``stream.py``:
``{(state, input): (action, next_state)}`` with every pair present. Inputs are what
happens to session descriptions: we send an offer (``LOCAL_OFFER``), one arrives
(``REMOTE_OFFER``), likewise for answers, and ``ROLLBACK`` withdraws a pending offer
(the re-INVITE carrying it failed, or we refuse the peer's offer with 488): the session
stays as it was (RFC 3261 §14.1, §14.2). A row whose action raises is a refused input: the
state does not change and the error carries the SIP status to answer with (491 for
glare, 500 for a second offer before the first is answered, 488 for an answer that does
not fit). A rollback's next state is None in the table: it returns to NO_OFFER before the
first completed exchange and to STABLE after it.

Answers keep the offerer's payload type numbers (RFC 3264 §6.1 lets us, and it spares a
relay any renumbering), list the codecs in common in *our* preference order (an
endpoint's ``allow=``), add ``telephone-event`` when both sides have it at a matching clock
rate, and reject (port 0) a stream with nothing in common; the direction is the offer's
reversed, narrowed by what we want (hold), with the RFC 2543 ``c=0.0.0.0`` hold read as
"do not send to me" (RFC 3264 §8.4). The ``o=`` version goes up by one whenever our
description changes and stays when we resend the same one (RFC 3264 §8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache
from types import MappingProxyType

from switchboard.sdp.codecs import CODECS, TELEPHONE_EVENT, Codec, codec_for, codec_named
from switchboard.sdp.crypto import SRTP_PROTOS, SrtpParameters, agreed_keys, choose
from switchboard.sdp.errors import (
    GlareError,
    LocalOfferAnswerError,
    NotAcceptableError,
    OfferAnswerError,
    SdpError,
)
from switchboard.sdp.model import (
    DIRECTIONS,
    Attribute,
    Connection,
    Crypto,
    Direction,
    Media,
    Origin,
    RtpMap,
    SessionDescription,
    remember,
    with_known_views,
)


class HoldState(Enum):
    """Who, if anyone, put a stream on hold, seen from our side (RFC 3264 §8.4)."""

    ACTIVE = "active"
    LOCAL_HOLD = "local hold"
    """We hold the peer: we send (music) and want nothing back (our sendonly)."""
    REMOTE_HOLD = "remote hold"
    """The peer holds us: it sends, or sends nothing, and wants nothing (our recvonly)."""
    INACTIVE = "inactive"


PLAIN_PROTOS = ("RTP/AVP", "RTP/AVPF")
"""The plain RTP profiles (RFC 3551, RFC 4585)."""


@dataclass(frozen=True, init=False, slots=True)
class LocalMedia:
    """What our side of a session offers and accepts: address, RTP port, codec order."""

    address: str
    port: int
    preferences: tuple[str, ...]
    """Asterisk codec names in ``allow=`` order, e.g. ``("ulaw", "alaw")``."""
    telephone_event: bool = True
    """Offer and accept RFC 4733 DTMF (``dtmf_mode=rfc4733``)."""
    ptime: int | None = None
    rtcp_mux: bool = False
    username: str = "-"
    session_name: str = "Switchboard"
    protos: tuple[str, ...] = PLAIN_PROTOS
    """Transport protocols accepted in an answer; the first is the one offered."""
    crypto: tuple[Crypto, ...] = field(default=(), repr=False)
    """SDES: our ``a=crypto`` lines, one fresh key per suite in preference order (offered
    as they are; an answer takes the offer's first usable suite). Empty: no SRTP, and an
    offer's lines are ignored on a plain RTP profile."""

    def __init__(  # noqa: PLR0917 (the positional signature dataclass gives)
        self,
        address: str,
        port: int,
        preferences: tuple[str, ...],
        telephone_event: bool = True,
        ptime: int | None = None,
        rtcp_mux: bool = False,
        username: str = "-",
        session_name: str = "Switchboard",
        protos: tuple[str, ...] = PLAIN_PROTOS,
        crypto: tuple[Crypto, ...] = (),
    ) -> None:
        object.__setattr__(self, "address", address)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "preferences", preferences)
        object.__setattr__(self, "telephone_event", telephone_event)
        object.__setattr__(self, "ptime", ptime)
        object.__setattr__(self, "rtcp_mux", rtcp_mux)
        object.__setattr__(self, "username", username)
        object.__setattr__(self, "session_name", session_name)
        object.__setattr__(self, "protos", protos)
        object.__setattr__(self, "crypto", crypto)

    @property
    def addrtype(self) -> str:
        """``IP6`` for an IPv6 address, else ``IP4``."""
        return "IP6" if ":" in self.address else "IP4"

    def moved(self, port: int, address: str | None = None) -> LocalMedia:
        """The same media on ``port`` (and ``address``): a relay's port, a direct-media
        target. A third of the cost of :func:`dataclasses.replace`, which a call did four
        times; every field is passed on (tests/unit/sdp/test_sdp_negotiate.py checks)."""
        return LocalMedia(
            self.address if address is None else address,
            port,
            self.preferences,
            self.telephone_event,
            self.ptime,
            self.rtcp_mux,
            self.username,
            self.session_name,
            self.protos,
            self.crypto,
        )


@dataclass(frozen=True, slots=True)
class NegotiatedCodec:
    """A codec both sides agreed on, with each side's payload type number for it."""

    payload_type: int
    """The remote's number: what we send with (RFC 3264 §5.1)."""
    local_payload_type: int
    """Our number: what the remote sends to us with."""
    encoding_name: str
    clock_rate: int
    channels: int
    name: str | None
    """Asterisk's name (ulaw, alaw, ...), None for a codec we have no name for."""
    fmtp: str | None = None


@dataclass(frozen=True, init=False, slots=True)
class NegotiatedStream:
    """The outcome of one m= line both sides accepted: where to send, what, in which way."""

    index: int
    media: str
    proto: str
    local_port: int
    remote_address: str | None
    remote_port: int
    remote_rtcp_port: int
    rtcp_mux: bool
    codecs: tuple[NegotiatedCodec, ...]
    """The codecs in common in the answer's order; the first is the one to send."""
    telephone_event: int | None
    """The remote's payload type for RFC 4733 events, if negotiated."""
    ptime: float | None
    """The packet time the remote asked to receive (``a=ptime``), if any."""
    direction: Direction
    """Our direction: sendonly means we hold the peer, recvonly that it holds us."""
    remote_crypto: tuple[Crypto, ...] = ()
    srtp: SrtpParameters | None = None
    """The SDES keys both sides agreed on; None for plain RTP."""

    def __init__(  # noqa: PLR0917 (the positional signature dataclass gives)
        self,
        index: int,
        media: str,
        proto: str,
        local_port: int,
        remote_address: str | None,
        remote_port: int,
        remote_rtcp_port: int,
        rtcp_mux: bool,
        codecs: tuple[NegotiatedCodec, ...],
        telephone_event: int | None,
        ptime: float | None,
        direction: Direction,
        remote_crypto: tuple[Crypto, ...] = (),
        srtp: SrtpParameters | None = None,
    ) -> None:
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "media", media)
        object.__setattr__(self, "proto", proto)
        object.__setattr__(self, "local_port", local_port)
        object.__setattr__(self, "remote_address", remote_address)
        object.__setattr__(self, "remote_port", remote_port)
        object.__setattr__(self, "remote_rtcp_port", remote_rtcp_port)
        object.__setattr__(self, "rtcp_mux", rtcp_mux)
        object.__setattr__(self, "codecs", codecs)
        object.__setattr__(self, "telephone_event", telephone_event)
        object.__setattr__(self, "ptime", ptime)
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "remote_crypto", remote_crypto)
        object.__setattr__(self, "srtp", srtp)

    @property
    def hold_state(self) -> HoldState:
        """Whether this stream is on hold, and by whom."""
        return _HOLD[self.direction]


_HOLD = {
    Direction.SENDRECV: HoldState.ACTIVE,
    Direction.SENDONLY: HoldState.LOCAL_HOLD,
    Direction.RECVONLY: HoldState.REMOTE_HOLD,
    Direction.INACTIVE: HoldState.INACTIVE,
}


def effective_direction(description: SessionDescription, media: Media) -> Direction:
    """The direction meant for ``media``; ``c=0.0.0.0`` means "send nothing here" (RFC 3264)."""
    direction = description.direction_of(media)
    connection = description.connection_of(media)
    if connection is not None and connection.is_hold:
        return Direction.of(direction.sends, False)
    return direction


def offer_holds(offer: SessionDescription) -> bool:
    """Whether an offer holds us: it has active audio, none of it wanting media back."""
    active = [m for m in offer.media if m.media == "audio" and m.port]
    return bool(active) and not any(effective_direction(offer, m).receives for m in active)


CodecKey = tuple[str, int, int]
"""A codec whatever its payload type number: name, clock rate, channels."""


@lru_cache(maxsize=512)  # bounded: rtpmaps come from the network
def _codec_key(rtpmap: RtpMap) -> CodecKey:
    """What makes two rtpmaps the same codec whatever the payload type number."""
    codec = codec_for(rtpmap)
    if codec is not None:
        rate = rtpmap.clock_rate if codec.name == TELEPHONE_EVENT else codec.clock_rate
        return (codec.name, rate, codec.channels)
    return (rtpmap.encoding_name.lower(), rtpmap.clock_rate, rtpmap.channels)


_DIRECTION_ATTRIBUTES = {direction: Attribute(direction.value) for direction in Direction}
"""The ``a=sendrecv``-style flag of each direction."""


def _direction_attribute(direction: Direction) -> Attribute:
    """The ``a=sendrecv``-style flag for ``direction``."""
    return _DIRECTION_ATTRIBUTES[direction]


def _reaimed(media: Media, port: int, direction: Direction) -> Media:
    """One of our own streams again, on ``port`` with ``direction`` (a re-offer): one copy,
    keeping the codec views our streams are built with, so nothing is parsed back."""
    kept = tuple(a for a in media.attributes if a.name not in DIRECTIONS)
    moved = Media(  # the constructor, not dataclasses.replace: a sixth of the time
        media.media,
        port,
        media.proto,
        media.formats,
        media.number_of_ports,
        media.information,
        media.connections,
        media.bandwidths,
        media.key,
        (*kept, _direction_attribute(direction)),
    )
    moved.views.codec_types = _codec_types(media)
    return with_known_views(moved, media.rtpmaps, direction)


def _session(local: LocalMedia, origin: Origin, media: Iterable[Media]) -> SessionDescription:
    """Our session-level lines around ``media``."""
    return SessionDescription(
        origin=origin,
        session_name=local.session_name,
        connection=_connection(local),
        media=tuple(media),
    )


_CONNECTIONS: dict[str, Connection] = {}
"""Our ``c=`` lines by address: a server answers from the same few (bounded)."""


def _connection(local: LocalMedia) -> Connection:
    """Our ``c=`` line for ``local``'s address."""
    known = _CONNECTIONS.get(local.address)
    if known is None:
        connection = Connection("IN", local.addrtype, local.address)
        known = remember(_CONNECTIONS, local.address, connection)
    return known


def make_origin(local: LocalMedia, session_id: str, session_version: int) -> Origin:
    """Our ``o=`` line; ``session_id`` is entropy the caller supplies (RFC 8866 §5.2)."""
    return Origin(local.username, session_id, session_version, "IN", local.addrtype, local.address)


def make_offer(
    local: LocalMedia, origin: Origin, direction: Direction = Direction.SENDRECV
) -> SessionDescription:
    """An initial offer: one audio stream, codecs in preference order, then telephone-event(s)."""
    return _session(local, origin, (_offer_media(local, direction),))


def _offer_media(local: LocalMedia, direction: Direction) -> Media:
    """The audio stream of an initial offer."""
    formats, codec_lines, rtpmaps = _offered_codecs(local.preferences, local.telephone_event)
    attributes = list(codec_lines)
    if local.ptime is not None:
        attributes.append(Attribute("ptime", str(local.ptime)))
    if local.rtcp_mux:
        attributes.append(Attribute("rtcp-mux"))
    attributes.extend(Attribute("crypto", str(line)) for line in local.crypto)
    attributes.append(_direction_attribute(direction))
    media = Media("audio", local.port, local.protos[0], formats, attributes=tuple(attributes))
    return with_known_views(media, dict(rtpmaps), direction)


@lru_cache(maxsize=64)  # bounded: one entry per endpoint's allow= list, from the config
def _offered_codecs(
    preferences: tuple[str, ...], telephone_event: bool
) -> tuple[tuple[str, ...], tuple[Attribute, ...], tuple[tuple[int, RtpMap], ...]]:
    """The formats, rtpmap/fmtp lines and rtpmaps an offer lists for an ``allow=`` order:
    worked out once per order, since every call from or to an endpoint offers the same."""
    codecs: list[Codec] = []
    for name in preferences:
        codec = codec_named(name)
        if (
            codec is not None
            and codec.media == "audio"
            and codec.name != TELEPHONE_EVENT
            and codec not in codecs
        ):
            codecs.append(codec)
    if not codecs:
        raise LocalOfferAnswerError("no known audio codec to offer")
    if telephone_event:
        # RFC 4733 §2.1: events at each audio clock rate offered, 8 kHz (on 101) first.
        event = CODECS[TELEPHONE_EVENT]
        rates = sorted({c.clock_rate for c in codecs}, key=lambda rate: rate != 8000)
        codecs.extend(replace(event, clock_rate=rate) for rate in rates)
    used: set[int] = set()
    formats: list[str] = []
    attributes: list[Attribute] = []
    rtpmaps: dict[int, RtpMap] = {}
    for codec in codecs:
        payload_type = codec.payload_type
        if payload_type in used:
            payload_type = min(set(range(96, 128)) - used)
        used.add(payload_type)
        formats.append(str(payload_type))
        rtpmaps[payload_type] = codec.rtpmap(payload_type)
        attributes.append(Attribute("rtpmap", str(rtpmaps[payload_type])))
        if codec.fmtp is not None:
            attributes.append(Attribute("fmtp", f"{payload_type} {codec.fmtp}"))
    return tuple(formats), tuple(attributes), tuple(rtpmaps.items())


def _reject(media: Media) -> Media:
    """A refused stream in an answer: port 0, the offered formats echoed (RFC 3264 §6)."""
    return Media(media.media, 0, media.proto, media.formats)


class _CodecTypes:
    """The first payload type (and its rtpmap) of each codec in a stream, in m= order.
    Shared by every stream with the same codec lines; hashed by identity, so
    :func:`_agreed_codecs` remembers its result per pair of them."""

    __slots__ = ("by_key",)

    def __init__(self, by_key: dict[CodecKey, tuple[int, RtpMap]]) -> None:
        self.by_key = by_key


@dataclass(frozen=True, slots=True)
class _AnswerCodecs:
    """What an answer to one offered codec list says, worked out once per list and
    ``allow=`` order: the formats, rtpmap/fmtp lines and the views they make."""

    formats: tuple[str, ...]
    lines: tuple[Attribute, ...]
    rtpmaps: Mapping[int, RtpMap]
    """Read-only: every answer built from this template reads it as its ``rtpmaps``."""
    types: _CodecTypes


_NO_CODEC = _AnswerCodecs((), (), MappingProxyType({}), _CodecTypes({}))
_ANSWER_CODECS: dict[tuple[object, ...], _AnswerCodecs] = {}
"""Answers' codec parts by the offer's formats, rtpmap and fmtp lines, our ``allow=`` order
and DTMF setting: every call from one phone model offers the same (bounded)."""


def _answer_codecs(media: Media, local: LocalMedia) -> _AnswerCodecs:
    """The codec part of our answer to ``media`` (see :func:`_chosen_codecs`), remembered."""
    text = (
        media.formats,
        tuple(media.values("rtpmap")),
        tuple(media.values("fmtp")),
        local.preferences,
        local.telephone_event,
    )
    known = _ANSWER_CODECS.get(text)
    if known is None:
        known = remember(_ANSWER_CODECS, text, _chosen_codecs(media, local))
    return known


def _chosen_codecs(media: Media, local: LocalMedia) -> _AnswerCodecs:
    """The offered codecs we take, in our preference order, with telephone-event."""
    offered: dict[str, tuple[int, RtpMap]] = {}
    events: list[tuple[int, RtpMap]] = []
    for payload_type in media.payload_types:
        rtpmap = media.rtpmap(payload_type)
        codec = None if rtpmap is None else codec_for(rtpmap)
        if codec is None or rtpmap is None:
            continue
        if codec.name == TELEPHONE_EVENT:
            events.append((payload_type, rtpmap))
        else:
            offered.setdefault(codec.name, (payload_type, rtpmap))
    chosen: list[tuple[int, RtpMap]] = []
    for name in local.preferences:
        found = offered.pop(name.lower(), None)
        if found is not None:
            chosen.append(found)
    if not chosen:
        return _NO_CODEC
    if local.telephone_event:
        # Events at the audio's clock rate (RFC 4733 §2.1); failing that, at 8 kHz, which
        # phones offer beside Opus (48 kHz) or G.722 and Asterisk accepts.
        rates = {rtpmap.clock_rate for _, rtpmap in chosen}
        chosen.extend(
            [event for event in events if event[1].clock_rate in rates]
            or [event for event in events if event[1].clock_rate == 8000][:1]
        )
    lines = [Attribute("rtpmap", str(rtpmap)) for _, rtpmap in chosen]
    for payload_type, _ in chosen:
        parameters = media.fmtps.get(str(payload_type))
        if parameters is not None:
            lines.append(Attribute("fmtp", f"{payload_type} {parameters}"))
    formats = tuple(str(payload_type) for payload_type, _ in chosen)
    rtpmaps = MappingProxyType(dict(chosen))
    return _AnswerCodecs(formats, tuple(lines), rtpmaps, _types_of(chosen))


def _answer_media(
    offer: SessionDescription,
    media: Media,
    local: LocalMedia,
    direction: Direction,
    crypto: Crypto | None,
) -> Media | None:
    """Our answer to one offered audio stream (with our ``crypto`` line, if SRTP was
    agreed), or None when nothing in it is acceptable."""
    codecs = _answer_codecs(media, local)
    if not codecs.formats:
        return None
    attributes = list(codecs.lines)
    ptime = media.values("ptime")
    if ptime:
        attributes.append(Attribute("ptime", ptime[0]))
    elif local.ptime is not None:
        attributes.append(Attribute("ptime", str(local.ptime)))
    if local.rtcp_mux and media.rtcp_mux:
        attributes.append(Attribute("rtcp-mux"))
    if crypto is not None:
        attributes.append(Attribute("crypto", str(crypto)))
    answered = direction & effective_direction(offer, media).reverse()
    attributes.append(_direction_attribute(answered))
    built = Media("audio", local.port, media.proto, codecs.formats, attributes=tuple(attributes))
    views = built.views
    views.codec_types = codecs.types
    views.crypto = () if crypto is None else (crypto,)
    return with_known_views(built, codecs.rtpmaps, answered)


def make_answer(
    offer: SessionDescription,
    local: LocalMedia,
    origin: Origin,
    direction: Direction = Direction.SENDRECV,
) -> SessionDescription:
    """Our answer: the first usable audio stream accepted, the rest rejected; else 488."""
    return _session(local, origin, _answer_streams(offer, local, direction))


def _answer_streams(
    offer: SessionDescription, local: LocalMedia, direction: Direction
) -> tuple[Media, ...]:
    """The m= lines of our answer to ``offer`` (see :func:`make_answer`)."""
    answered: list[Media] = []
    accepted = False
    reason = "no audio stream"
    for media in offer.media:
        result = None
        if not accepted and media.media == "audio" and media.port:
            crypto = choose(media.crypto, local.crypto) if local.crypto else None
            if media.proto not in local.protos:
                if reason == "no audio stream":
                    reason = f"unsupported transport {media.proto}"
            elif crypto is None and media.proto in SRTP_PROTOS:
                reason = "no supported SRTP crypto suite"
            else:
                result = _answer_media(offer, media, local, direction, crypto)
                reason = "no common codec"
        accepted = accepted or result is not None
        answered.append(_reject(media) if result is None else result)
    if not accepted:
        raise NotAcceptableError(reason)
    return tuple(answered)


def negotiate_streams(
    local: SessionDescription, remote: SessionDescription, local_is_offerer: bool
) -> tuple[NegotiatedStream, ...]:
    """The streams a completed exchange set up: every m= line both sides kept active."""
    streams: list[NegotiatedStream] = []
    for index, (ours, theirs) in enumerate(zip(local.media, remote.media, strict=False)):
        if not ours.port or not theirs.port or not theirs.is_rtp or not ours.is_rtp:
            continue
        codecs, event = _agreed_codecs(
            _codec_types(theirs), _codec_types(ours), theirs, local_is_offerer
        )
        connection = remote.connection_of(theirs)
        rtcp_mux = ours.rtcp_mux and theirs.rtcp_mux
        rtcp_port = theirs.port if rtcp_mux else theirs.port + 1
        if theirs.rtcp is not None:
            rtcp_port = theirs.rtcp.port
        direction = local.direction_of(ours) & effective_direction(remote, theirs).reverse()
        srtp = None
        if ours.crypto and theirs.crypto:
            offered, answered = (ours, theirs) if local_is_offerer else (theirs, ours)
            srtp = agreed_keys(offered.crypto, answered.crypto, local_is_offerer)
        if srtp is None and (ours.proto in SRTP_PROTOS or theirs.proto in SRTP_PROTOS):
            raise OfferAnswerError(f"m={theirs.media}: SRTP without a matching a=crypto")
        streams.append(
            NegotiatedStream(
                index=index,
                media=theirs.media,
                proto=theirs.proto,
                local_port=ours.port,
                remote_address=None if connection is None else connection.address,
                remote_port=theirs.port,
                remote_rtcp_port=rtcp_port,
                rtcp_mux=rtcp_mux,
                codecs=codecs,
                telephone_event=event,
                ptime=theirs.ptime,
                direction=direction,
                remote_crypto=theirs.crypto,
                srtp=srtp,
            )
        )
    return tuple(streams)


def _codec_types(media: Media) -> _CodecTypes:
    """``media``'s :class:`_CodecTypes`, kept with its other views (a stream read again or
    re-offered is negotiated again: see :class:`~switchboard.sdp.parse.SdpReader` and
    :func:`_reaimed`) and shared by streams with the same payload types and rtpmaps."""
    views = media.views
    result = views.codec_types
    if not isinstance(result, _CodecTypes):
        text = (media.payload_types, tuple(media.values("rtpmap")))
        result = _CODEC_TYPES.get(text)
        if result is None:
            pairs = ((pt, media.rtpmap(pt)) for pt in media.payload_types)
            known = [(pt, rtpmap) for pt, rtpmap in pairs if rtpmap is not None]
            result = remember(_CODEC_TYPES, text, _types_of(known))
        views.codec_types = result
    return result


def _types_of(pairs: Iterable[tuple[int, RtpMap]]) -> _CodecTypes:
    """The first payload type (and rtpmap) of each codec among ``pairs``, in their order."""
    by_key: dict[CodecKey, tuple[int, RtpMap]] = {}
    for payload_type, rtpmap in pairs:
        by_key.setdefault(_codec_key(rtpmap), (payload_type, rtpmap))
    return _CodecTypes(by_key)


_CODEC_TYPES: dict[tuple[tuple[int, ...], tuple[str, ...]], _CodecTypes] = {}
""":func:`_codec_types` by the payload types and rtpmap lines it is read from (bounded)."""


def _agreed_codecs(
    their_types: _CodecTypes, our_types: _CodecTypes, theirs: Media, local_is_offerer: bool
) -> tuple[tuple[NegotiatedCodec, ...], int | None]:
    """The codecs both sides have, in the answer's order, and the remote's telephone-event
    payload type; remembered per pair of codec lists, since each pair of phones repeats it."""
    text = (their_types, our_types, tuple(theirs.values("fmtp")), local_is_offerer)
    known = _AGREED.get(text)
    if known is not None:
        return known
    codecs: list[NegotiatedCodec] = []
    events: list[NegotiatedCodec] = []
    # The answer's order; a dict keeps each codec's first payload type only.
    fmtps = theirs.fmtps
    theirs_by_key, ours_by_key = their_types.by_key, our_types.by_key
    for key, (_, rtpmap) in (theirs_by_key if local_is_offerer else ours_by_key).items():
        their_type = theirs_by_key.get(key)
        our_type = ours_by_key.get(key)
        if their_type is None or our_type is None:
            continue
        remote_type = their_type[0]
        codec = codec_for(rtpmap)
        agreed = NegotiatedCodec(
            remote_type,
            our_type[0],
            rtpmap.encoding_name,
            rtpmap.clock_rate,
            rtpmap.channels,
            None if codec is None else codec.name,
            fmtps.get(str(remote_type)) if fmtps else None,
        )
        (events if agreed.name == TELEPHONE_EVENT else codecs).append(agreed)
    rate = codecs[0].clock_rate if codecs else None
    event = next((e for e in events if e.clock_rate == rate), None) or next(
        (e for e in events if e.clock_rate == 8000), None
    )
    result = (tuple(codecs), None if event is None else event.payload_type)
    return remember(_AGREED, text, result)


_AGREED: dict[tuple[object, ...], tuple[tuple[NegotiatedCodec, ...], int | None]] = {}
""":func:`_agreed_codecs` by its inputs (bounded)."""


def shared_codec(a: NegotiatedStream, b: NegotiatedStream) -> NegotiatedCodec | None:
    """The first of leg ``a``'s codecs leg ``b`` also has; None means bridging them transcodes."""
    theirs = {(c.name or c.encoding_name.lower(), c.clock_rate, c.channels) for c in b.codecs}
    for codec in a.codecs:
        if (codec.name or codec.encoding_name.lower(), codec.clock_rate, codec.channels) in theirs:
            return codec
    return None


def hold_state(streams: Iterable[NegotiatedStream]) -> HoldState:
    """The hold state of a session: its first audio stream's; INACTIVE without one."""
    for stream in streams:
        if stream.media == "audio":
            return stream.hold_state
    return HoldState.INACTIVE


class State(Enum):
    """Offer/answer states of one side (RFC 3264 §4, RFC 6337 §2)."""

    NO_OFFER = "no offer"
    OFFER_SENT = "offer sent"
    OFFER_RECEIVED = "offer received"
    STABLE = "stable"

    __hash__ = object.__hash__
    """Members hash by identity (each is a singleton): the table look-up of every input
    then needs no Python-level ``Enum.__hash__`` call."""


class Input(Enum):
    """What happens to session descriptions."""

    LOCAL_OFFER = "local offer"
    REMOTE_OFFER = "remote offer"
    LOCAL_ANSWER = "local answer"
    REMOTE_ANSWER = "remote answer"
    ROLLBACK = "rollback"

    __hash__ = object.__hash__
    """As :class:`State`: identity hashing for the table look-up."""


Action = Callable[["OfferAnswer", SessionDescription | None], None]


class OfferAnswer:
    """One side's offer/answer exchanges for one session; see the module comment."""

    __slots__ = (
        "_sent",
        "_version",
        "local",
        "local_media",
        "pending_local",
        "pending_remote",
        "remote",
        "session_id",
        "state",
        "streams",
    )

    def __init__(self, local_media: LocalMedia, session_id: str, session_version: int) -> None:
        self.local_media = local_media
        self.session_id = session_id
        self._version = session_version
        self._sent: SessionDescription | None = None
        self.state = State.NO_OFFER
        self.local: SessionDescription | None = None
        """Our description of the last completed exchange."""
        self.remote: SessionDescription | None = None
        """The peer's description of the last completed exchange."""
        self.pending_local: SessionDescription | None = None
        self.pending_remote: SessionDescription | None = None
        self.streams: tuple[NegotiatedStream, ...] = ()
        """What the last completed exchange set up."""

    # --- the table driver ----------------------------------------------------------------
    def process(self, event: Input, description: SessionDescription | None = None) -> None:
        """Feed one input; a refused input raises and leaves the state unchanged."""
        action, next_state = _transitions[self.state, event]
        action(self, description)
        if next_state is None:
            next_state = State.NO_OFFER if self.local is None else State.STABLE
        self.state = next_state

    def send_offer(self, offer: SessionDescription) -> None:
        """We send ``offer`` (INVITE, re-INVITE, UPDATE, or a 2xx to an offerless INVITE)."""
        self.process(Input.LOCAL_OFFER, offer)

    def receive_offer(self, offer: SessionDescription) -> None:
        """An offer arrived; raises :class:`GlareError` (491) while ours is pending."""
        self.process(Input.REMOTE_OFFER, offer)

    def send_answer(self, answer: SessionDescription) -> None:
        """We send ``answer`` to the pending remote offer."""
        self.process(Input.LOCAL_ANSWER, answer)

    def receive_answer(self, answer: SessionDescription) -> None:
        """The answer to our pending offer arrived."""
        self.process(Input.REMOTE_ANSWER, answer)

    def rollback(self) -> None:
        """Withdraw the pending offer, ours or theirs; the session stays as it was."""
        self.process(Input.ROLLBACK)

    # --- building our descriptions -------------------------------------------------------
    def offer(self, direction: Direction = Direction.SENDRECV) -> SessionDescription:
        """Build and send an offer; after an exchange, the same streams re-aimed (RFC 3264 §8)."""
        local = self.local_media
        if self.local is None:
            media: tuple[Media, ...] = (_offer_media(local, direction),)
        else:
            media = tuple(
                _reaimed(m, local.port, direction) if m.port and m.media == "audio" else m
                for m in self.local.media
            )
        offer = self._stamp(media)
        self.send_offer(offer)
        return offer

    def answer(self, direction: Direction = Direction.SENDRECV) -> SessionDescription:
        """Build and send our answer; on 488 the offer stays pending until :meth:`rollback`."""
        if self.state is not State.OFFER_RECEIVED or self.pending_remote is None:
            raise LocalOfferAnswerError(f"no offer to answer in state {self.state.value}")
        answer = self._stamp(_answer_streams(self.pending_remote, self.local_media, direction))
        self.send_answer(answer)
        return answer

    @property
    def hold_state(self) -> HoldState:
        """The hold state of the negotiated session (INACTIVE before any exchange)."""
        return hold_state(self.streams)

    def _origin(self) -> Origin:
        """Our ``o=`` line at the current session version."""
        return make_origin(self.local_media, self.session_id, self._version)

    def _stamp(self, media: tuple[Media, ...]) -> SessionDescription:
        """Our description of ``media``; the o= version goes up when it differs from the
        last one sent in anything but the o= line (RFC 3264 §8)."""
        local = self.local_media
        connection = _connection(local)
        sent = self._sent
        if sent is not None and (
            sent.media != media
            or sent.connection != connection
            or sent.session_name != local.session_name
        ):
            self._version += 1
        description = SessionDescription(
            origin=self._origin(),
            session_name=local.session_name,
            connection=connection,
            media=media,
        )
        self._sent = description
        return description

    # --- actions -------------------------------------------------------------------------
    def _offer_sent(self, offer: SessionDescription | None) -> None:
        """Keep our offer pending; a re-offer keeps every m= line (RFC 3264 §8)."""
        assert offer is not None
        if self.local is not None and len(offer.media) < len(self.local.media):
            raise LocalOfferAnswerError("an offer may not remove m= lines (RFC 3264 §8)")
        self.pending_local = offer

    def _offer_received(self, offer: SessionDescription | None) -> None:
        """Keep the peer's offer pending; a re-offer keeps every m= line (RFC 3264 §8)."""
        assert offer is not None
        if self.remote is not None and len(offer.media) < len(self.remote.media):
            raise OfferAnswerError(
                f"offer has {len(offer.media)} m= lines, the session {len(self.remote.media)}"
            )
        self.pending_remote = offer

    def _answer_sent(self, answer: SessionDescription | None) -> None:
        """Our answer completes the exchange the peer's offer started."""
        assert answer is not None and self.pending_remote is not None
        _check_answer(self.pending_remote, answer, LocalOfferAnswerError)
        self._complete(answer, self.pending_remote, local_is_offerer=False)

    def _answer_received(self, answer: SessionDescription | None) -> None:
        """The peer's answer completes the exchange our offer started."""
        assert answer is not None and self.pending_local is not None
        _check_answer(self.pending_local, answer, OfferAnswerError)
        self._complete(self.pending_local, answer, local_is_offerer=True)

    def _complete(
        self, local: SessionDescription, remote: SessionDescription, local_is_offerer: bool
    ) -> None:
        """Record the completed exchange and the streams it set up."""
        self.streams = negotiate_streams(local, remote, local_is_offerer)
        self.local, self.remote = local, remote
        self.pending_local = self.pending_remote = None

    def _roll_back(self, description: SessionDescription | None) -> None:
        """Forget the pending offer; the last completed exchange stays in force."""
        self.pending_local = self.pending_remote = None

    def _glare(self, description: SessionDescription | None) -> None:
        """Both sides offered at once: the peer's request gets 491 (RFC 3261 §14.2)."""
        raise GlareError("offer while our offer is pending (glare)")

    def _second_offer(self, description: SessionDescription | None) -> None:
        """An offer before we answered the last one: 500 with Retry-After (RFC 3261 §14.2)."""
        raise OfferAnswerError("offer while the previous offer is unanswered", 500)

    def _unexpected_answer(self, description: SessionDescription | None) -> None:
        """An answer to no offer of ours: the peer's mistake."""
        raise OfferAnswerError(f"answer without an offer in state {self.state.value}", 400)

    def _local_misuse(self, description: SessionDescription | None) -> None:
        """Our own code fed an input the state forbids: a bug on our side."""
        raise LocalOfferAnswerError(f"input not allowed in state {self.state.value}")


def _check_answer(
    offer: SessionDescription, answer: SessionDescription, error: type[SdpError]
) -> None:
    """An answer has the offer's m= lines, same media types, in order (RFC 3264 §6)."""
    if len(answer.media) != len(offer.media):
        raise error(f"answer has {len(answer.media)} m= lines for an offer of {len(offer.media)}")
    for offered, answered in zip(offer.media, answer.media, strict=True):
        if offered.media != answered.media:
            raise error(f"answer has m={answered.media} for an offered m={offered.media}")


NO_OFFER, OFFER_SENT, OFFER_RECEIVED, STABLE = State
_transitions: Mapping[tuple[State, Input], tuple[Action, State | None]] = {
    (NO_OFFER, Input.LOCAL_OFFER): (OfferAnswer._offer_sent, OFFER_SENT),
    (NO_OFFER, Input.REMOTE_OFFER): (OfferAnswer._offer_received, OFFER_RECEIVED),
    (NO_OFFER, Input.LOCAL_ANSWER): (OfferAnswer._local_misuse, NO_OFFER),
    (NO_OFFER, Input.REMOTE_ANSWER): (OfferAnswer._unexpected_answer, NO_OFFER),
    (NO_OFFER, Input.ROLLBACK): (OfferAnswer._local_misuse, NO_OFFER),
    (OFFER_SENT, Input.LOCAL_OFFER): (OfferAnswer._local_misuse, OFFER_SENT),
    (OFFER_SENT, Input.REMOTE_OFFER): (OfferAnswer._glare, OFFER_SENT),
    (OFFER_SENT, Input.LOCAL_ANSWER): (OfferAnswer._local_misuse, OFFER_SENT),
    (OFFER_SENT, Input.REMOTE_ANSWER): (OfferAnswer._answer_received, STABLE),
    (OFFER_SENT, Input.ROLLBACK): (OfferAnswer._roll_back, None),
    (OFFER_RECEIVED, Input.LOCAL_OFFER): (OfferAnswer._local_misuse, OFFER_RECEIVED),
    (OFFER_RECEIVED, Input.REMOTE_OFFER): (OfferAnswer._second_offer, OFFER_RECEIVED),
    (OFFER_RECEIVED, Input.LOCAL_ANSWER): (OfferAnswer._answer_sent, STABLE),
    (OFFER_RECEIVED, Input.REMOTE_ANSWER): (OfferAnswer._unexpected_answer, OFFER_RECEIVED),
    (OFFER_RECEIVED, Input.ROLLBACK): (OfferAnswer._roll_back, None),
    (STABLE, Input.LOCAL_OFFER): (OfferAnswer._offer_sent, OFFER_SENT),
    (STABLE, Input.REMOTE_OFFER): (OfferAnswer._offer_received, OFFER_RECEIVED),
    (STABLE, Input.LOCAL_ANSWER): (OfferAnswer._local_misuse, STABLE),
    (STABLE, Input.REMOTE_ANSWER): (OfferAnswer._unexpected_answer, STABLE),
    (STABLE, Input.ROLLBACK): (OfferAnswer._local_misuse, STABLE),
}
"""Every (state, input) pair; actions that raise refuse the input (state unchanged)."""
