"""SDES (RFC 4568) in SDP: a=crypto lines byte for byte, the suite chosen in the offer's
order, RTP/SAVP offers and answers, optimistic SRTP, and keys kept out of every repr."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.sdp.crypto import (
    SUITES,
    SrtpParameters,
    agreed_keys,
    choose,
    crypto_line,
    decode_key,
    key_length,
    mki_length,
    offered_lines,
    usable_key,
)
from switchboard.sdp.errors import NotAcceptableError, OfferAnswerError, SdpError
from switchboard.sdp.model import Crypto
from switchboard.sdp.negotiate import LocalMedia, OfferAnswer
from switchboard.sdp.parse import parse_sdp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sdp"
KEY_80 = bytes(range(30))
KEY_GCM = bytes(range(100, 144))
OURS = offered_lines((suite, bytes([n]) * key_length(suite)) for n, suite in enumerate(SUITES, 1))
SAVP = ("RTP/SAVP", "RTP/SAVPF")
OPTIMISTIC = ("RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF")
PBX = LocalMedia("203.0.113.1", 20000, ("ulaw",), protos=SAVP, crypto=OURS)
PLAIN = LocalMedia("203.0.113.1", 20000, ("ulaw",))


def offer(proto: str, *crypto: str) -> bytes:
    lines = [
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.9",
        "s=-",
        "c=IN IP4 192.0.2.9",
        "t=0 0",
        f"m=audio 4000 {proto} 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        *(f"a=crypto:{line}" for line in crypto),
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def answered(body: bytes, local: LocalMedia = PBX) -> tuple[bytes, OfferAnswer]:
    oa = OfferAnswer(local, "77", 1)
    oa.receive_offer(parse_sdp(body))
    return oa.answer().serialize(), oa


def test_every_offered_suite_has_its_key_length() -> None:
    assert [(line.tag, line.crypto_suite) for line in OURS] == list(enumerate(SUITES, 1))
    assert all(usable_key(line) is not None for line in OURS)


def test_crypto_lines_round_trip_byte_for_byte() -> None:
    body = offer(
        "RTP/SAVP",
        f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}|2^20|1:4",
        f"2 AES_CM_128_HMAC_SHA1_32 inline:{b64(KEY_80)}|2^31 UNENCRYPTED_SRTCP",
        f"3 AEAD_AES_256_GCM inline:{b64(KEY_GCM)}",
    )
    assert parse_sdp(body).serialize() == body
    line = crypto_line(7, "AES_CM_128_HMAC_SHA1_80", KEY_80)
    assert str(line) == f"7 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}"
    assert Crypto.parse(str(line)) == line


def test_our_srtp_offer_byte_for_byte() -> None:
    local = LocalMedia(
        "203.0.113.1",
        20000,
        ("ulaw",),
        protos=SAVP,
        crypto=offered_lines([("AES_CM_128_HMAC_SHA1_80", KEY_80)]),
    )
    oa = OfferAnswer(local, "77", 1)
    assert (
        oa.offer().serialize()
        == (
            "v=0\r\no=- 77 1 IN IP4 203.0.113.1\r\ns=Switchboard\r\nc=IN IP4 203.0.113.1\r\n"
            "t=0 0\r\nm=audio 20000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
            f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}\r\na=sendrecv\r\n"
        ).encode()
    )


def test_the_answer_takes_the_offers_first_usable_suite_with_its_tag() -> None:
    body = offer(
        "RTP/SAVP",
        f"5 F8_128_HMAC_SHA1_80 inline:{b64(KEY_80)}",
        f"6 AES_CM_128_HMAC_SHA1_32 inline:{b64(KEY_80)}",
        f"7 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}",
    )
    answer, oa = answered(body)
    ours = next(line for line in OURS if line.crypto_suite == "AES_CM_128_HMAC_SHA1_32")
    assert answer.endswith(
        (
            "m=audio 20000 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
            f"a=crypto:6 AES_CM_128_HMAC_SHA1_32 {ours.key_params[0].key_method}:"
            f"{ours.key_params[0].key_info}\r\na=sendrecv\r\n"
        ).encode()
    )
    (stream,) = oa.streams
    assert stream.srtp == SrtpParameters("AES_CM_128_HMAC_SHA1_32", usable_key(ours), KEY_80)


def test_a_phone_with_lifetime_mki_and_session_parameters() -> None:
    """MicroSIP's two lines: the MKI one is usable (4 octets to take out of each packet),
    the one with a session parameter is skipped."""
    body = (FIXTURES / "microsip_srtp.sdp").read_bytes()
    _, oa = answered(body)
    (stream,) = oa.streams
    assert stream.srtp is not None
    assert (stream.srtp.suite, stream.srtp.remote_mki) == ("AES_CM_128_HMAC_SHA1_80", 4)
    assert stream.srtp.remote_key == decode_key("WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")
    second = parse_sdp(body).media[0].crypto[1]
    assert usable_key(second) is None


@pytest.mark.parametrize(
    ("line", "usable"),
    [
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}", True),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}|2^31", True),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}|1:1", True),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}|1:129", False),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}|x:4", False),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80[:29])}", False),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)[:-1]}!", False),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)} KDR=1", False),
        (f"1 AES_CM_128_HMAC_SHA1_80 uri:{b64(KEY_80)}", False),
        (f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)};inline:{b64(KEY_80)}", False),
        (f"1 AEAD_AES_256_GCM inline:{b64(KEY_GCM)}", True),
        (f"1 AEAD_AES_256_GCM inline:{b64(KEY_GCM).rstrip('=')}", True),
        (f"1 AEAD_AES_256_GCM inline:{b64(KEY_GCM)}|1:4", False),
        (f"1 AES_256_CM_HMAC_SHA1_80 inline:{b64(bytes(46))}", True),
        (f"1 AES_192_CM_HMAC_SHA1_80 inline:{b64(bytes(38))}", False),
    ],
)
def test_which_lines_we_can_use(line: str, usable: bool) -> None:
    assert (usable_key(Crypto.parse(line)) is not None) is usable


def test_mki_lengths() -> None:
    assert mki_length(Crypto.parse(f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}")) == 0
    assert mki_length(Crypto.parse(f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}|9:2")) == 2


def test_an_srtp_offer_with_nothing_usable_is_not_acceptable() -> None:
    body = offer("RTP/SAVP", f"1 F8_128_HMAC_SHA1_80 inline:{b64(KEY_80)}")
    with pytest.raises(NotAcceptableError, match="no supported SRTP crypto suite") as caught:
        answered(body)
    assert caught.value.status == 488
    with pytest.raises(NotAcceptableError, match="no supported SRTP crypto suite"):
        answered(offer("RTP/SAVP"))


def test_srtp_required_refuses_plain_rtp_and_plain_refuses_savp() -> None:
    with pytest.raises(NotAcceptableError, match="unsupported transport RTP/AVP"):
        answered(offer("RTP/AVP"))
    with pytest.raises(NotAcceptableError, match="unsupported transport RTP/SAVP"):
        answered(offer("RTP/SAVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}"), PLAIN)


def test_a_plain_endpoint_ignores_keys_offered_on_rtp_avp() -> None:
    answer, oa = answered(
        offer("RTP/AVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}"), PLAIN
    )
    assert b"a=crypto" not in answer and b"RTP/AVP 0 101" in answer
    assert oa.streams[0].srtp is None


def test_optimistic_uses_keys_when_offered_and_plain_rtp_when_not() -> None:
    local = LocalMedia("203.0.113.1", 20000, ("ulaw",), protos=OPTIMISTIC, crypto=OURS)
    answer, oa = answered(
        offer("RTP/AVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{b64(KEY_80)}"), local
    )
    assert b"RTP/AVP 0 101" in answer and b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in answer
    assert oa.streams[0].srtp is not None
    answer, oa = answered(offer("RTP/AVP"), local)
    assert b"a=crypto" not in answer and oa.streams[0].srtp is None
    ours = OfferAnswer(local, "77", 1).offer().serialize()
    assert b"m=audio 20000 RTP/AVP 0 101" in ours and ours.count(b"a=crypto:") == len(SUITES)


def test_our_offer_answered_with_one_of_its_tags() -> None:
    oa = OfferAnswer(PBX, "77", 1)
    oa.offer()
    theirs = next(line for line in OURS if line.tag == 4)
    oa.receive_answer(parse_sdp(offer("RTP/SAVP", f"4 {theirs.crypto_suite} inline:{b64(KEY_80)}")))
    assert oa.streams[0].srtp == SrtpParameters(theirs.crypto_suite, usable_key(theirs), KEY_80)


def test_an_answer_whose_key_matches_no_offered_line_is_refused() -> None:
    oa = OfferAnswer(PBX, "77", 1)
    oa.offer()
    wrong_suite = offer("RTP/SAVP", f"4 AES_CM_128_HMAC_SHA1_32 inline:{b64(KEY_80)}")
    with pytest.raises(OfferAnswerError, match="SRTP without a matching a=crypto"):
        oa.receive_answer(parse_sdp(wrong_suite))
    with pytest.raises(OfferAnswerError, match="SRTP without a matching a=crypto"):
        oa.receive_answer(parse_sdp(offer("RTP/SAVP")))


def test_agreed_keys_follow_the_answers_tag() -> None:
    offered = offered_lines([("AES_CM_128_HMAC_SHA1_80", KEY_80), ("AEAD_AES_256_GCM", KEY_GCM)])
    answer = (crypto_line(2, "AEAD_AES_256_GCM", bytes(44)),)
    assert agreed_keys(offered, answer, local_is_offerer=True) == SrtpParameters(
        "AEAD_AES_256_GCM", KEY_GCM, bytes(44)
    )
    assert agreed_keys(offered, answer, local_is_offerer=False) == SrtpParameters(
        "AEAD_AES_256_GCM", bytes(44), KEY_GCM
    )
    assert agreed_keys(offered, (), local_is_offerer=True) is None
    assert choose(offered, ()) is None


def test_keys_never_appear_in_a_repr() -> None:
    text = b64(KEY_80)
    _, oa = answered(offer("RTP/SAVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{text}"))
    (stream,) = oa.streams
    for shown in (repr(stream), repr(oa.local_media), repr(stream.srtp), repr(oa.remote)):
        assert text not in shown and str(KEY_80) not in shown
        assert all(str(line.key_params[0].key_info) not in shown for line in OURS)


@settings(max_examples=300)
@given(
    st.sampled_from([*SUITES, "F8_128_HMAC_SHA1_80", "AES_CM"]),
    st.text(alphabet="ABCxyz019+/=|:^ ;", max_size=90),
    st.sampled_from(["RTP/SAVP", "RTP/AVP"]),
)
def test_any_crypto_line_is_used_skipped_or_refused_never_a_crash(
    suite: str, info: str, proto: str
) -> None:
    """Whatever a phone writes after the suite: a usable key, a skipped line, or a 400/488
    answer; never another exception."""
    try:
        answered(offer(proto, f"1 {suite} inline:{info}"))
    except SdpError as error:
        assert error.status in (400, 488)
