"""Codec choice for dialled phones, media plans and the relay's rewrites."""

from __future__ import annotations

import asyncio

from switchboard.media.g711 import ULAW_TO_ALAW_BYTES
from switchboard.media.portpool import PortPool
from switchboard.media.relay import MediaRelay
from switchboard.media.transcode import RtpTranscoder
from switchboard.sdp.model import Direction
from switchboard.sdp.negotiate import (
    LocalMedia,
    NegotiatedCodec,
    NegotiatedStream,
    make_offer,
    make_origin,
)
from switchboard.services.calls.bridge import (
    callee_preferences,
    local_telephone_event,
    plan,
    wire,
)

ULAW = NegotiatedCodec(0, 0, "PCMU", 8000, 1, "ulaw")
ALAW = NegotiatedCodec(8, 8, "PCMA", 8000, 1, "alaw")
G722 = NegotiatedCodec(9, 9, "G722", 8000, 1, "g722")
ULAW_96 = NegotiatedCodec(96, 0, "PCMU", 8000, 1, "ulaw")
OPUS = NegotiatedCodec(107, 107, "opus", 48000, 2, "opus")
GSM = NegotiatedCodec(3, 3, "GSM", 8000, 1, "gsm")


def stream(*codecs: NegotiatedCodec, event: int | None = 101) -> NegotiatedStream:
    return NegotiatedStream(
        index=0,
        media="audio",
        proto="RTP/AVP",
        local_port=10000,
        remote_address="127.0.0.1",
        remote_port=20000,
        remote_rtcp_port=20001,
        rtcp_mux=False,
        codecs=codecs,
        telephone_event=event,
        ptime=None,
        direction=Direction.SENDRECV,
    )


def test_the_callers_codec_goes_first_and_only_bridgeable_ones_follow() -> None:
    assert callee_preferences(ULAW, ("alaw", "g722", "gsm", "ulaw")) == ("ulaw", "alaw", "g722")
    assert callee_preferences(ALAW, ("ulaw",)) == ("ulaw",)
    assert callee_preferences(G722, ("ulaw", "opus")) == ("ulaw", "opus")
    assert callee_preferences(GSM, ("ulaw", "gsm")) == ("gsm",)  # nothing transcodes GSM
    assert callee_preferences(GSM, ("ulaw",)) == ()
    assert callee_preferences(None, ("ulaw", "g722")) == ("ulaw", "g722")


def test_plans_bridge_the_same_codec_or_transcode() -> None:
    same = plan(stream(ULAW), stream(ULAW))
    assert same is not None and not same.transcodes and same.same_numbers
    laws = plan(stream(ULAW), stream(ALAW))
    assert laws is not None and laws.transcodes and not laws.same_numbers
    wideband = plan(stream(G722), stream(ULAW))
    assert wideband is not None and wideband.transcodes
    assert plan(stream(GSM), stream(ULAW)) is None
    assert plan(stream(), stream(ULAW)) is None
    renumbered = plan(stream(ULAW), stream(ULAW_96))
    assert renumbered is not None and not renumbered.same_numbers


def test_our_telephone_event_number_is_read_from_our_sdp() -> None:
    local = LocalMedia("127.0.0.1", 4000, ("ulaw",))
    offer = make_offer(local, make_origin(local, "1", 1))
    assert local_telephone_event(offer) == 101
    assert local_telephone_event(None) is None


def test_wire_sets_transcoding_and_renumbering_both_ways() -> None:
    async def main() -> None:
        relay = MediaRelay(PortPool(47000, 47100, "127.0.0.1"))
        media = plan(stream(ULAW), stream(ALAW))
        assert media is not None
        wire(relay.a, relay.b, media, (101, 101), (96, 97))
        assert relay.a.rtp.rewrite[0] == (ULAW_TO_ALAW_BYTES, 8)
        assert relay.a.rtp.rewrite[101] == (None, 97)
        assert relay.b.rtp.rewrite[96] == (None, 101)
        assert relay.a.rtp.dtmf_payload_type == 101
        assert relay.b.rtp.dtmf_payload_type == 96
        same = plan(stream(ULAW), stream(ULAW))
        assert same is not None
        wire(relay.a, relay.b, same, (101, 101), (101, 101))
        assert relay.a.rtp.rewrite == {} and relay.b.rtp.rewrite == {}
        opus = plan(stream(G722), stream(OPUS))
        assert opus is not None
        wire(relay.a, relay.b, opus, (101, 101), (101, 101))
        there, back = relay.a.rtp.rewrite[9], relay.b.rtp.rewrite[107]
        assert isinstance(there[0], RtpTranscoder) and there[1] == 107
        assert there[0].source.name == "g722" and there[0].target.name == "opus"
        assert isinstance(back[0], RtpTranscoder) and back[1] == 9

    asyncio.run(main())
