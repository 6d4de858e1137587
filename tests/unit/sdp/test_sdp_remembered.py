"""What is remembered per line text (codec lines, answers' codec parts, agreed codecs)
never carries one call's ports, addresses or preferences into another, and a malformed
line is refused however often its well-formed neighbours were seen."""

from __future__ import annotations

import pytest

from switchboard.sdp.errors import NotAcceptableError, SdpParseError
from switchboard.sdp.model import CACHE_LIMIT, remember
from switchboard.sdp.negotiate import LocalMedia, OfferAnswer
from switchboard.sdp.parse import parse_sdp


def offer(port: int = 4002, address: str = "192.168.1.77", extra: str = "") -> bytes:
    """A softphone's offer: PCMA, PCMU, G.722 and DTMF, on ``port`` at ``address``."""
    return (
        "v=0\r\n"
        f"o=- 1 1 IN IP4 {address}\r\n"
        "s=-\r\n"
        f"c=IN IP4 {address}\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP 8 0 9 101\r\n"
        "a=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=rtpmap:9 G722/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\n"
        "a=fmtp:101 0-16\r\n"
        "a=ptime:20\r\n"
        f"{extra}"
    ).encode()


def answer(body: bytes, local: LocalMedia) -> OfferAnswer:
    """A fresh negotiator that received ``body`` and answered it."""
    negotiator = OfferAnswer(local, "7", 1)
    negotiator.receive_offer(parse_sdp(body))
    negotiator.answer()
    return negotiator


def test_repeated_offers_get_their_own_ports_and_addresses() -> None:
    local = LocalMedia("203.0.113.1", 20000, ("ulaw", "alaw"))
    first = answer(offer(4002, "192.168.1.77"), local)
    second = answer(offer(5004, "192.168.1.78"), local.moved(30000, "203.0.113.2"))
    assert first.local is not None and second.local is not None
    text = second.local.serialize().decode()
    assert "m=audio 30000 RTP/AVP 0 8 101\r\n" in text
    assert "c=IN IP4 203.0.113.2\r\n" in text
    assert "a=ptime:20\r\n" in text
    assert "20000" not in text and "203.0.113.1" not in text
    (stream,) = second.streams
    assert (stream.remote_address, stream.remote_port, stream.local_port) == (
        "192.168.1.78",
        5004,
        30000,
    )
    assert [c.name for c in stream.codecs] == ["ulaw", "alaw"]
    assert stream.telephone_event == 101
    assert first.streams[0].remote_port == 4002


def test_the_answer_follows_each_endpoints_allow_order() -> None:
    body = offer()
    alaw_first = answer(body, LocalMedia("203.0.113.1", 20000, ("alaw", "ulaw")))
    g722_only = answer(body, LocalMedia("203.0.113.1", 20000, ("g722",), telephone_event=False))
    assert [c.name for c in alaw_first.streams[0].codecs] == ["alaw", "ulaw"]
    assert [c.name for c in g722_only.streams[0].codecs] == ["g722"]
    assert g722_only.streams[0].telephone_event is None
    with pytest.raises(NotAcceptableError, match="no common codec"):
        answer(body, LocalMedia("203.0.113.1", 20000, ("opus",)))


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("a=rtpmap:8 PCMA/8000\r\n", "payload type 8 mapped twice"),
        ("a=maxptime:twenty\r\n", "a=maxptime"),
        ("a=rtcp:99999\r\n", "a=rtcp port"),
        ("a=sendonly\r\na=recvonly\r\n", "more than one direction"),
        ("a=bad name\r\n", "bad attribute name"),
    ],
)
def test_a_malformed_line_is_refused_after_good_bodies_were_remembered(
    extra: str, reason: str
) -> None:
    for _ in range(3):
        parse_sdp(offer())
    with pytest.raises(SdpParseError, match=reason):
        parse_sdp(offer(extra=extra))


def test_a_malformed_ptime_is_refused_after_a_good_one_was_remembered() -> None:
    parse_sdp(offer())
    with pytest.raises(SdpParseError, match="a=ptime: expected a positive number"):
        parse_sdp(offer().replace(b"a=ptime:20", b"a=ptime:0"))


def test_a_remembered_line_keeps_its_line_number_in_refusals() -> None:
    parse_sdp(offer())
    body = offer().replace(b"c=IN IP4 192.168.1.77\r\n", b"")
    with pytest.raises(SdpParseError, match="line 5: m=audio: no c= line"):
        parse_sdp(body)


def test_caches_start_afresh_beyond_their_bound() -> None:
    cache: dict[int, int] = {}
    for number in range(CACHE_LIMIT + 10):
        assert remember(cache, number, number * 2) == number * 2
    assert len(cache) <= CACHE_LIMIT
    assert cache[CACHE_LIMIT + 9] == 2 * (CACHE_LIMIT + 9)


def test_the_shared_rtpmap_and_fmtp_views_cannot_be_changed() -> None:
    """Two calls with the same lines share one view: neither can change the other's."""
    first, second = (parse_sdp(offer(port)).media[0] for port in (4002, 5002))
    assert first.rtpmaps is second.rtpmaps and first.fmtps is second.fmtps
    with pytest.raises(TypeError):
        first.rtpmaps[8] = first.rtpmaps[0]  # type: ignore[index]
    with pytest.raises(TypeError):
        first.fmtps["101"] = "0-15"  # type: ignore[index]
    assert second.fmtps["101"] == "0-16"
