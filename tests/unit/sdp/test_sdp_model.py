"""The model's helpers: directions, fmtp parameters, keys kept out of reprs, the codec table."""

from __future__ import annotations

from dataclasses import replace

import pytest

from switchboard.sdp.codecs import CODECS, asterisk_name, codec_for, codec_named
from switchboard.sdp.errors import NotAcceptableError
from switchboard.sdp.model import (
    Attribute,
    Connection,
    Direction,
    KeyParam,
    Origin,
    RtpMap,
    fmtp_parameters,
)
from switchboard.sdp.negotiate import LocalMedia, make_answer, make_origin
from switchboard.sdp.parse import parse_sdp


def test_direction_algebra() -> None:
    assert Direction.SENDONLY.reverse() is Direction.RECVONLY
    assert Direction.RECVONLY.reverse() is Direction.SENDONLY
    assert Direction.SENDRECV.reverse() is Direction.SENDRECV
    assert Direction.INACTIVE.reverse() is Direction.INACTIVE
    assert Direction.SENDRECV & Direction.SENDONLY is Direction.SENDONLY
    assert Direction.SENDONLY & Direction.RECVONLY is Direction.INACTIVE
    assert Direction.SENDRECV.sends and Direction.SENDRECV.receives
    with pytest.raises(TypeError):
        _ = Direction.SENDRECV & "sendrecv"


def test_structured_views_are_computed_once() -> None:
    media = parse_sdp(
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\n"
        b"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    ).media[0]
    assert media.rtpmaps is media.rtpmaps
    assert media.values("nothing") == []
    changed = replace(media, attributes=(Attribute("rtpmap", "0 PCMA/8000"), Attribute("sendonly")))
    assert changed.rtpmaps[0].encoding_name == "PCMA" and changed.direction is Direction.SENDONLY
    assert media.rtpmaps[0].encoding_name == "PCMU" and media.direction is None
    assert changed != media and replace(changed, attributes=media.attributes) == media


def test_fmtp_parameters() -> None:
    assert fmtp_parameters("mode=30; annexb=no") == {"mode": "30", "annexb": "no"}
    assert fmtp_parameters("0-16") == {"": "0-16"}
    assert fmtp_parameters("minptime=10;useinbandfec=1;") == {"minptime": "10", "useinbandfec": "1"}
    assert fmtp_parameters("") == {}


def test_values_print_as_sdp_and_secrets_do_not() -> None:
    assert str(Attribute("sendrecv")) == "sendrecv"
    assert str(Attribute("ptime", "20")) == "ptime:20"
    assert repr(Attribute("ptime", "20")) == "Attribute('ptime', '20')"
    assert "KEY" not in repr(Attribute("crypto", "1 AES_CM_128_HMAC_SHA1_80 inline:KEY"))
    assert "KEY" not in repr(Attribute("key-mgmt", "mikey KEY"))
    assert "KEY" not in repr(KeyParam("inline", "KEY"))
    assert KeyParam("inline", "KEY").lifetime is None
    assert KeyParam("inline", "KEY|1:4").mki == "1:4"
    assert KeyParam("inline", "KEY|1:4").lifetime is None
    assert str(Origin("-", "1", 2, "IN", "IP4", "192.0.2.1")) == "- 1 2 IN IP4 192.0.2.1"
    assert str(RtpMap(96, "opus", 48000, 2)) == "96 opus/48000/2"
    assert Connection("IN", "IP4", "224.2.1.1/127/3").address == "224.2.1.1"
    assert not Connection("IN", "IP6", "::").is_hold


def test_codec_table() -> None:
    assert codec_named("ULAW") is CODECS["ulaw"]
    assert codec_named("nothing") is None
    assert CODECS["ulaw"].payload_type == 0 and CODECS["opus"].payload_type == 107
    assert CODECS["g722"].audio_rate == 16000 and CODECS["g722"].clock_rate == 8000
    assert CODECS["alaw"].audio_rate == 8000
    assert CODECS["opus"].rtpmap(111) == RtpMap(111, "opus", 48000, 2)
    assert CODECS["ulaw"].rtpmap(0) == RtpMap(0, "PCMU", 8000)
    assert asterisk_name(RtpMap(0, "pcmu", 8000)) == "ulaw"
    assert asterisk_name(RtpMap(8, "PCMA", 8000)) == "alaw"
    assert asterisk_name(RtpMap(9, "G722", 16000)) == "g722"  # a common mistake, still G.722
    assert asterisk_name(RtpMap(96, "opus", 48000)) == "opus"  # mono written, still opus
    assert asterisk_name(RtpMap(97, "telephone-event", 48000)) == "telephone-event"
    assert asterisk_name(RtpMap(96, "speex", 16000)) == "speex16"
    assert codec_for(RtpMap(0, "PCMU", 8000, 2)) is None
    assert codec_for(RtpMap(96, "X-NOTHING", 8000)) is None


def test_second_unsupported_transport_keeps_the_first_reason() -> None:
    offer = parse_sdp(
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.1\r\n"
        b"m=audio 4000 RTP/SAVP 0\r\nm=audio 4002 UDP/TLS/RTP/SAVP 0\r\n"
    )
    local = LocalMedia("192.0.2.2", 5000, ("ulaw",))
    with pytest.raises(NotAcceptableError, match=r"unsupported transport RTP/SAVP$"):
        make_answer(offer, local, make_origin(local, "1", 1))


def test_package_exports_the_api() -> None:
    from switchboard import sdp

    assert all(hasattr(sdp, name) for name in sdp.__all__)
    assert sdp.parse_sdp is parse_sdp


def test_every_codec_pjsip_conf_accepts_is_in_the_table() -> None:
    from switchboard.config.pjsip import AUDIO_CODECS

    for name in AUDIO_CODECS:
        codec = codec_named(name)
        assert codec is not None and codec.media == "audio", name
