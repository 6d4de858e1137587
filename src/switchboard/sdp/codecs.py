"""The codec table: Asterisk's codec names (``allow=ulaw,alaw``) against SDP rtpmap values.

One row per codec, as aioice's STUN attribute table: the Asterisk name used in
``pjsip.conf``, the RTP encoding name, the RTP clock rate written in SDP, channels, the
static payload type of RFC 3551 (None for dynamic ones) and the preferred dynamic payload
type we offer (Asterisk's own numbers, so traces look familiar). Two rows differ from the
obvious: G.722 is 16 kHz audio but ``G722/8000`` in SDP (RFC 3551 §4.5.2, an error kept
for compatibility), and Opus is always ``opus/48000/2`` whatever it carries (RFC 7587 §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from switchboard.sdp.model import RtpMap


@dataclass(frozen=True, slots=True)
class Codec:
    """A codec as Asterisk names it and as SDP describes it."""

    name: str
    encoding_name: str
    clock_rate: int
    channels: int = 1
    static_payload_type: int | None = None
    dynamic_payload_type: int | None = None
    sample_rate: int | None = None
    media: str = "audio"
    fmtp: str | None = None

    @property
    def audio_rate(self) -> int:
        """The real sampling rate (16000 for G.722 although SDP says 8000)."""
        return self.sample_rate or self.clock_rate

    @property
    def payload_type(self) -> int:
        """The payload type to offer: the static one, else our preferred dynamic one."""
        if self.static_payload_type is not None:
            return self.static_payload_type
        assert self.dynamic_payload_type is not None
        return self.dynamic_payload_type

    def rtpmap(self, payload_type: int) -> RtpMap:
        """The ``a=rtpmap`` value describing this codec as ``payload_type``."""
        channels = self.channels if self.channels > 1 else None
        return RtpMap(payload_type, self.encoding_name, self.clock_rate, channels)


TELEPHONE_EVENT = "telephone-event"
"""RFC 4733 DTMF events; not an Asterisk ``allow=`` codec but negotiated like one."""

CODECS: dict[str, Codec] = {
    codec.name: codec
    for codec in (
        Codec("ulaw", "PCMU", 8000, static_payload_type=0),
        Codec("alaw", "PCMA", 8000, static_payload_type=8),
        Codec("g722", "G722", 8000, static_payload_type=9, sample_rate=16000),
        Codec("gsm", "GSM", 8000, static_payload_type=3),
        Codec("g723", "G723", 8000, static_payload_type=4),
        Codec("lpc10", "LPC", 8000, static_payload_type=7),
        Codec("adpcm", "DVI4", 8000, static_payload_type=5),
        Codec("g729", "G729", 8000, static_payload_type=18, fmtp="annexb=no"),
        Codec("g726", "G726-32", 8000, dynamic_payload_type=111),
        Codec("g726aal2", "AAL2-G726-32", 8000, dynamic_payload_type=112),
        Codec("ilbc", "iLBC", 8000, dynamic_payload_type=97, fmtp="mode=30"),
        Codec("opus", "opus", 48000, 2, dynamic_payload_type=107, fmtp="useinbandfec=1"),
        Codec("speex", "speex", 8000, dynamic_payload_type=110),
        Codec("speex16", "speex", 16000, dynamic_payload_type=119),
        Codec("speex32", "speex", 32000, dynamic_payload_type=120),
        Codec("slin", "L16", 8000, dynamic_payload_type=118),
        Codec("slin16", "L16", 16000, dynamic_payload_type=123),
        Codec("siren7", "G7221", 16000, dynamic_payload_type=115, fmtp="bitrate=32000"),
        Codec("siren14", "G7221", 32000, dynamic_payload_type=116, fmtp="bitrate=48000"),
        Codec("g719", "G719", 48000, dynamic_payload_type=117),
        Codec(TELEPHONE_EVENT, "telephone-event", 8000, dynamic_payload_type=101, fmtp="0-16"),
        Codec("h261", "H261", 90000, static_payload_type=31, media="video"),
        Codec("h263", "H263", 90000, static_payload_type=34, media="video"),
        Codec("h263p", "H263-1998", 90000, dynamic_payload_type=98, media="video"),
        Codec("h264", "H264", 90000, dynamic_payload_type=99, media="video"),
        Codec("vp8", "VP8", 90000, dynamic_payload_type=100, media="video"),
        Codec("vp9", "VP9", 90000, dynamic_payload_type=121, media="video"),
        Codec("t140", "t140", 1000, dynamic_payload_type=102, media="text"),
    )
}
"""Every codec by its Asterisk name."""

_BY_RTPMAP: dict[tuple[str, int], Codec] = {
    (codec.encoding_name.lower(), codec.clock_rate): codec for codec in CODECS.values()
}
# G722/16000 is wrong but some phones write it; it still means G.722.
_BY_RTPMAP["g722", 16000] = CODECS["g722"]


def codec_named(name: str) -> Codec | None:
    """The codec Asterisk calls ``name`` (case-insensitive), if we know it."""
    return CODECS.get(name.lower())


@lru_cache(maxsize=512)  # bounded: rtpmaps come from the network
def codec_for(rtpmap: RtpMap) -> Codec | None:
    """The codec an rtpmap describes (name in any case, rate, channels; any Opus, any DTMF rate)."""
    name = rtpmap.encoding_name.lower()
    if name == TELEPHONE_EVENT:  # RFC 4733 events run at the audio codec's clock rate
        return CODECS[TELEPHONE_EVENT]
    codec = _BY_RTPMAP.get((name, rtpmap.clock_rate))
    if codec is None or codec.name == "opus":
        return codec
    return codec if rtpmap.channels == codec.channels else None


def asterisk_name(rtpmap: RtpMap) -> str | None:
    """Asterisk's name for the codec of an rtpmap (PCMU -> ulaw), if any."""
    codec = codec_for(rtpmap)
    return None if codec is None else codec.name
