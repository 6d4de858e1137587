"""Parsing real phones' SDP bodies whole, every prefix of them, and round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.sdp.errors import SdpError, SdpParseError
from switchboard.sdp.model import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    Repeat,
    Rtcp,
    RtpMap,
    SessionDescription,
    Timing,
)
from switchboard.sdp.parse import parse_sdp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sdp"
BODIES = {path.stem: path.read_bytes() for path in sorted(FIXTURES.glob("*.sdp"))}


def fixture(name: str) -> SessionDescription:
    return parse_sdp(BODIES[name])


def sdp(*lines: str) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode()


HEAD = ("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0")


def test_fixture_set_is_complete() -> None:
    assert len(BODIES) >= 10


@pytest.mark.parametrize("name", sorted(BODIES))
def test_round_trip(name: str) -> None:
    description = parse_sdp(BODIES[name])
    serialized = description.serialize()
    assert parse_sdp(serialized) == description
    assert serialized.endswith(b"\r\n") and b"\r\n\r\n" not in serialized
    assert bytes(description) == serialized
    if b"\r\n" in BODIES[name]:  # written in RFC order already: byte for byte
        assert serialized == BODIES[name]
    else:
        assert serialized == BODIES[name].replace(b"\n", b"\r\n")


@pytest.mark.parametrize("name", sorted(BODIES))
def test_every_prefix_parses_or_raises_a_parse_error(name: str) -> None:
    body = BODIES[name]
    for end in range(len(body)):
        try:
            parse_sdp(body[:end])
        except SdpParseError as error:
            assert error.status == 400 and error.reason


@pytest.mark.parametrize("name", sorted(BODIES))
def test_trailing_blank_lines_and_lf_endings(name: str) -> None:
    description = parse_sdp(BODIES[name])
    assert parse_sdp(BODIES[name] + b"\r\n\r\n") == description
    assert parse_sdp(BODIES[name].replace(b"\r\n", b"\n")) == description
    assert parse_sdp(BODIES[name].rstrip(b"\r\n")) == description
    assert parse_sdp(BODIES[name].decode()) == description


def test_baresip_offer() -> None:
    offer = fixture("baresip")
    assert offer.origin.username == "-"
    assert offer.origin.sess_id == "1735206170"
    assert offer.origin.sess_version == 4105325483
    assert offer.attributes == (Attribute("tool", "baresip 3.10.1"),)
    (audio,) = offer.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 10624, "RTP/AVP")
    assert audio.payload_types == (96, 9, 0, 8, 101)
    assert audio.bandwidths == (Bandwidth("AS", 128),)
    assert audio.rtpmap(96) == RtpMap(96, "opus", 48000, 2)
    assert audio.rtpmap(96).channels == 2  # type: ignore[union-attr]
    assert audio.rtpmap(9) == RtpMap(9, "G722", 8000)  # static, no rtpmap line
    assert audio.rtpmap(0) == RtpMap(0, "PCMU", 8000)
    assert audio.fmtps == {"96": "stereo=1;sprop-stereo=1", "101": "0-15"}
    assert audio.ptime == 20.0
    assert audio.direction is Direction.SENDRECV
    assert audio.values("ssrc") == ["3195618452 cname:d6c2a5e0-2f37-4b8e-9a4f-7f3a1e3c9b21"]
    assert offer.connection_of(audio) == Connection("IN", "IP4", "192.168.1.23")


def test_linphone_offer_with_video() -> None:
    offer = fixture("linphone")
    audio, video = offer.media
    assert offer.session_name == "Talk"
    assert audio.rtpmaps[97] == RtpMap(97, "speex", 16000)
    assert audio.rtpmap(18) == RtpMap(18, "G729", 8000)
    assert audio.fmtps["18"] == "annexb=yes"
    assert audio.rtcp == Rtcp(7079)
    assert video.media == "video" and video.payload_types == (96, 97)
    assert video.rtpmap(96) == RtpMap(96, "VP8", 90000)
    assert [a.value for a in video.attributes if a.name == "rtcp-fb"][-1] == "97 ccm fir"
    assert offer.direction_of(video) is Direction.SENDRECV


def test_linphone_ipv6() -> None:
    offer = fixture("linphone_ipv6")
    assert offer.connection == Connection("IN", "IP6", "2001:db8::50")
    assert offer.media[0].rtcp == Rtcp(7079, "IN", "IP6", "2001:db8::50")


def test_pjsip_media_level_connection() -> None:
    offer = fixture("microsip")
    assert offer.connection is None
    assert offer.bandwidths == (Bandwidth("AS", 84),)
    (audio,) = offer.media
    assert audio.connections == (Connection("IN", "IP4", "192.168.1.77"),)
    assert audio.rtcp == Rtcp(4003, "IN", "IP4", "192.168.1.77")
    assert offer.connection_of(audio) == audio.connections[0]


def test_crypto_kept_structured_and_redacted() -> None:
    (audio,) = fixture("microsip_srtp").media
    first, second = audio.crypto
    assert (first.tag, first.crypto_suite) == (1, "AES_CM_128_HMAC_SHA1_80")
    (key,) = first.key_params
    assert key.key_method == "inline"
    assert key.key_salt == "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
    assert (key.lifetime, key.mki) == ("2^20", "1:4")
    assert second.session_params == ("UNENCRYPTED_SRTCP",)
    assert (second.key_params[0].lifetime, second.key_params[0].mki) == ("2^20", None)
    assert "WVNf" not in repr(audio) and "WVNf" not in repr(first)
    assert "WVNf" in str(first)


def test_asterisk_and_hold() -> None:
    assert fixture("asterisk").media[0].maxptime == 150.0
    hold = fixture("asterisk_hold")
    assert hold.direction_of(hold.media[0]) is Direction.SENDONLY


def test_rfc2543_hold_connection() -> None:
    offer = fixture("rfc2543_hold")
    assert offer.connection is not None and offer.connection.is_hold


def test_t38_image_stream() -> None:
    (image,) = fixture("t38").media
    assert (image.media, image.proto, image.formats) == ("image", "udptl", ("t38",))
    assert not image.is_rtp and image.payload_types == ()
    assert image.values("T38FaxMaxDatagram") == ["400"]


def test_webrtc_offer_keeps_candidates_raw() -> None:
    (audio,) = fixture("webrtc").media
    assert audio.proto == "UDP/TLS/RTP/SAVPF" and audio.is_rtp
    assert len(audio.values("candidate")) == 2
    assert audio.rtcp_mux
    assert audio.rtpmap(63) == RtpMap(63, "red", 48000, 2)
    assert audio.rtcp == Rtcp(9, "IN", "IP4", "0.0.0.0")


def test_sipp_lf_only() -> None:
    offer = fixture("sipp_uac")
    assert offer.media[0].payload_types == (0,)


def test_all_line_types_and_rfc_order() -> None:
    body = sdp(
        "v=0",
        "o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5",
        "s=SDP Seminar",
        "i=A Seminar on the session description protocol",
        "u=http://www.example.com/seminars/sdp.pdf",
        "e=j.doe@example.com (Jane Doe)",
        "e=alice@example.com",
        "p=+1 617 555-6011",
        "c=IN IP4 224.2.17.12/127",
        "b=CT:1000",
        "t=2873397496 2873404696",
        "r=604800 3600 0 90000",
        "r=7d 1h 0 25h",
        "t=0 0",
        "z=2882844526 -1h 2898848070 0",
        "k=prompt",
        "a=recvonly",
        "a=charset:UTF-8",
        "m=audio 49170/2 RTP/AVP 0",
        "i=voice",
        "c=IN IP4 224.2.17.12/127/2",
        "c=IN IP4 224.2.17.14/127",
        "b=AS:64",
        "k=clear:secret",
        "a=rtpmap:0 PCMU/8000",
        "m=video 51372 RTP/AVP 99",
        "a=rtpmap:99 h263-1998/90000",
        "a=inactive",
        "m=application 50000 UDP wb",
        "a=orient:portrait",
    )
    description = parse_sdp(body)
    assert description.serialize() == body
    assert description.information == "A Seminar on the session description protocol"
    assert description.uri == "http://www.example.com/seminars/sdp.pdf"
    assert description.emails == ("j.doe@example.com (Jane Doe)", "alice@example.com")
    assert description.phones == ("+1 617 555-6011",)
    assert description.timings == (
        Timing(
            2873397496,
            2873404696,
            (Repeat("604800", "3600", ("0", "90000")), Repeat("7d", "1h", ("0", "25h"))),
        ),
        Timing(0, 0),
    )
    assert description.time_zones == "2882844526 -1h 2898848070 0"
    assert description.key == "prompt"
    assert description.direction is Direction.RECVONLY
    audio, video, application = description.media
    assert audio.number_of_ports == 2 and audio.information == "voice"
    assert audio.connections[0].address == "224.2.17.12"
    assert audio.key == "clear:secret" and "secret" not in repr(audio)
    assert description.direction_of(audio) is Direction.RECVONLY  # session default
    assert description.direction_of(video) is Direction.INACTIVE  # overridden
    assert application.payload_types == () and application.formats == ("wb",)


def test_lines_out_of_order_are_put_back() -> None:
    body = sdp(
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "a=tool:x",
        "t=0 0",
        "b=AS:80",
        "c=IN IP4 192.0.2.1",
        "s=out of order",
        "m=audio 4000 RTP/AVP 0",
        "a=sendonly",
        "b=AS:64",
        "c=IN IP4 192.0.2.2",
        "i=late",
    )
    description = parse_sdp(body)
    assert description.serialize() == sdp(
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=out of order",
        "c=IN IP4 192.0.2.1",
        "b=AS:80",
        "t=0 0",
        "a=tool:x",
        "m=audio 4000 RTP/AVP 0",
        "i=late",
        "c=IN IP4 192.0.2.2",
        "b=AS:64",
        "a=sendonly",
    )


def test_missing_s_and_t_and_empty_s() -> None:
    description = parse_sdp(sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN IP4 192.0.2.1"))
    assert description.session_name == "-"
    assert description.timings == (Timing(0, 0),)
    assert description.media == ()
    empty = parse_sdp(sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s="))
    assert empty.session_name == "-"
    assert b"\r\ns=-\r\nt=0 0\r\n" in empty.serialize()
    assert parse_sdp(sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s= ")).session_name == " "
    made = SessionDescription(empty.origin, session_name="", timings=())
    assert b"\r\ns=-\r\nt=0 0\r\n" in made.serialize()


def test_unknown_line_types_are_dropped() -> None:
    description = parse_sdp(sdp(*HEAD, "y=0123456789", "m=audio 4000 RTP/AVP 0", "f=v/2/5"))
    assert description == parse_sdp(sdp(*HEAD, "m=audio 4000 RTP/AVP 0"))


def test_tolerated_odd_but_valid_values() -> None:
    description = parse_sdp(
        sdp(
            "v=0 ",
            "o=- 1 1 IN IP4 pbx.example.com",
            "c=IN IP4 media.example.com",
            "m=audio  4000  RTP/AVP 0 8 ",
            "a=ptime:0.5 ",
            "a=fmtp:0",
            "a=rtpmap:8 PCMA/8000/1",
            "a=rtpmap:120 X/8000",
            "m=audio 0 RTP/AVP",
            "m=text 4004 RTP/AVP 98",
            "c=IN IP6 media6.example.com",
            "c=IN X25 ab12",
            "a=rtcp:5000 IN IP4 rtcp.example.com",
        )
    )
    first, rejected, text = description.media
    assert first.payload_types == (0, 8) and first.ptime == 0.5
    assert first.fmtps == {"0": ""}
    assert first.rtpmap(8) == RtpMap(8, "PCMA", 8000, 1)
    assert first.rtpmap(96) is None
    assert rejected.rejected and rejected.formats == ()
    assert text.connections[1] == Connection("IN", "X25", "ab12")
    assert text.rtpmap(98) is None


ERRORS = [
    (b"", "empty SDP"),
    (b"\r\n\n", "empty SDP"),
    (b"v=0\r\n\x00", "NUL character in SDP"),
    (b"v=1\r\n", "line 1: expected 'v=0' first, found 'v=1'"),
    (b"o=- 1 1 IN IP4 192.0.2.1\r\n", "line 1: expected 'v=0' first"),
    (b"v=0\r\nhello\r\n", "line 2: expected '<type>=<value>', found 'hello'"),
    (b"v=0\r\nV=0\r\n", "line 2: expected '<type>=<value>'"),
    (b"v=0\r\na\r\n", "line 2: expected '<type>=<value>'"),
    (b"v=0\r\ns=a\rb\r\n", "line 2: CR in a line"),
    (b"v=0\r\r\n", "line 1: CR in a line"),
    (b"v=0\r\nv=0\r\n", "line 2: v= given twice"),
    (b"v=0\r\ns=x\r\n", "no o= line"),
    (sdp(*HEAD, "s=again"), "line 6: s= given twice"),
    (sdp(*HEAD, "c=IN IP4 192.0.2.2"), "line 6: c= given twice"),
    (sdp(*HEAD, "i=a", "i=b"), "line 7: i= given twice"),
    (sdp(*HEAD, "k=a", "k=b"), "line 7: k= given twice"),
    (sdp(*HEAD, "u=a", "u=b"), "line 7: u= given twice"),
    (sdp(*HEAD, "z=a", "z=b"), "line 7: z= given twice"),
    (sdp("v=0", "o=- 1 1 IN IP4"), "line 2: o=: expected 6 fields, found 5"),
    (sdp("v=0", "o=- 1 x IN IP4 192.0.2.1"), "o= sess-version: expected a number, found 'x'"),
    (sdp("v=0", "o=- 1 1 IN I(4 192.0.2.1"), "o=: bad network or address type"),
    (sdp("v=0", "o=- 1 1 IN IP4 192.0.2.300"), "o=: bad IPv4 address '192.0.2.300'"),
    (sdp("v=0", "o=- 1 1 IN IP6 2001:db8::x"), "o=: bad IPv6 address"),
    (sdp("v=0", "o=- 1 1 IN IP4 bad_host"), "o=: bad IP4 address 'bad_host'"),
    (sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN IP4"), "c=: expected 'IN IP4 <address>'"),
    (sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN (P4 a"), "c=: bad network or address type"),
    (sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN IP4 224.2.1.1/x"), "multicast ttl or count"),
    (sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN X25 a\\b"), "c=: bad address 'a\\\\b'"),
    (sdp(*HEAD, "b=AS"), "b=: expected '<bwtype>:<bandwidth>'"),
    (sdp(*HEAD, "b=A(:1"), "b=: expected '<bwtype>:<bandwidth>'"),
    (sdp(*HEAD, "b=AS:fast"), "b=AS: expected a number, found 'fast'"),
    (sdp(*HEAD, "t=0"), "t=: expected '<start> <stop>'"),
    (sdp(*HEAD, "t=0 -1"), "t= stop-time: expected a number"),
    (sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "r=1 2 3"), "line 3: r= without t="),
    (sdp(*HEAD, "r=1 2"), "r=: expected '<interval> <duration> <offsets>'"),
    (sdp(*HEAD, "a="), "a=: bad attribute name ''"),
    (sdp(*HEAD, "a=x y:1"), "a=: bad attribute name 'x y'"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "t=0 0"), "line 7: t= is not allowed after m="),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a="), "line 7: a=: bad attribute name"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "c=IN"), "line 7: c=: expected"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "b=AS"), "line 7: b=: expected"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "i=a", "i=b"), "line 8: i= given twice"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "k=a", "k=b"), "line 8: k= given twice"),
    (sdp(*HEAD, "m=audio 4000"), "m=: expected '<media> <port> <proto> <fmt>...'"),
    (sdp(*HEAD, "m=au(io 4000 RTP/AVP 0"), "m=: bad media type 'au(io'"),
    (sdp(*HEAD, "m=audio 70000 RTP/AVP 0"), "line 6: m=audio port: 70000 is out of range 0-65535"),
    (sdp(*HEAD, "m=audio x RTP/AVP 0"), "m=audio port: expected a number, found 'x'"),
    (sdp(*HEAD, "m=audio 4000/0 RTP/AVP 0"), "m=audio number of ports: 0 is out of range"),
    (sdp(*HEAD, "m=audio 4000 RTP/A(P 0"), "m=audio: bad proto 'RTP/A(P'"),
    (sdp(*HEAD, "m=image 4000 udptl t(8"), "m=image: bad format list"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0 1000"), "m= payload type: 1000 is out of range 0-127"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP"), "m=audio: no formats"),
    (
        sdp(*HEAD, "m=audio 4000 RTP/AVP 128"),
        "media at line 6: m= payload type: 128 is out of range 0-127",
    ),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP PCMU"), "m= payload type: expected a number"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0"), "a=rtpmap: expected '<pt> <name>/<rate>'"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 /8000"), "a=rtpmap: expected"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000/1/2"), "a=rtpmap: expected"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:x PCMU/8000"), "a=rtpmap payload type"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 PCMU/fast"), "a=rtpmap clock rate"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 PCMU/0"), "a=rtpmap clock rate: 0 is"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000/0"), "a=rtpmap channels"),
    (
        sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMA/8000"),
        "media at line 6: a=rtpmap: payload type 0 mapped twice",
    ),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=fmtp: 0-15"), "a=fmtp: expected '<format>"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=ptime:fast"), "a=ptime: expected a positive number"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=ptime:0"), "a=ptime: expected a positive number"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=maxptime:1.2.3"), "a=maxptime: expected"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=sendonly", "a=recvonly"), "more than one direction"),
    (sdp(*HEAD, "a=sendonly", "a=inactive"), "session: more than one direction attribute"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtcp:1 IN IP4"), "a=rtcp: expected '<port>"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtcp:99999"), "a=rtcp port: 99999 is out of"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=rtcp:5 IN IP4 1.2.3"), "a=rtcp: bad IPv4 address"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=crypto:1 AES"), "a=crypto: expected '<tag>"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=crypto:x AES inline:k"), "a=crypto tag"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=crypto:1 A(S inline:k"), "a=crypto: bad crypto-suite"),
    (sdp(*HEAD, "m=audio 4000 RTP/AVP 0", "a=crypto:1 AES inline"), "a=crypto: key-params must"),
    (
        sdp("v=0", "o=- 1 1 IN IP4 192.0.2.1", "m=audio 4000 RTP/AVP 0"),
        "line 3: m=audio: no c= line for the stream",
    ),
]


@pytest.mark.parametrize(("body", "reason"), ERRORS, ids=[reason for _, reason in ERRORS])
def test_error_messages(body: bytes, reason: str) -> None:
    with pytest.raises(SdpParseError) as caught:
        parse_sdp(body)
    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason
    assert caught.value.status == 400
    assert len(caught.value.reason) < 120


def test_parse_error_is_an_sdp_error() -> None:
    assert issubclass(SdpParseError, SdpError)


def test_reasons_stay_short() -> None:
    with pytest.raises(SdpParseError) as caught:
        parse_sdp(sdp(*HEAD, "m=" + "a" * 500 + " x RTP/AVP 0"))
    assert len(caught.value.reason) == 160 and caught.value.reason.endswith("...")
    assert caught.value.reason.startswith("line 6: m=aaaa")
