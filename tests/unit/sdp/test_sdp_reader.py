"""SdpReader: a body that repeats the last one in all but its o= line reuses that parse;
whatever it returns or raises is what parse_sdp would."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from switchboard.sdp.errors import SdpParseError
from switchboard.sdp.parse import SdpReader, parse_sdp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sdp"
BODIES = {path.stem: path.read_bytes() for path in sorted(FIXTURES.glob("*.sdp"))}


def sdp(*lines: str, end: str = "\r\n") -> bytes:
    return "".join(line + end for line in lines).encode()


def body(version: int, port: int = 6000, end: str = "\r\n", origin: str | None = None) -> bytes:
    return sdp(
        "v=0",
        origin or f"o=- 42 {version} IN IP4 192.0.2.1",
        "s=-",
        "c=IN IP4 192.0.2.1",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0 101",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=sendrecv",
        end=end,
    )


@pytest.mark.parametrize("end", ["\r\n", "\n"])
def test_a_new_origin_alone_reuses_the_streams(end: str) -> None:
    reader = SdpReader()
    first = reader.read(body(1, end=end))
    again = reader.read(body(2, end=end))
    assert again == parse_sdp(body(2, end=end))
    assert again.origin.sess_version == 2
    assert again.media[0] is first.media[0]


def test_the_same_body_twice() -> None:
    reader = SdpReader()
    first = reader.read(body(1))
    assert reader.read(body(1)) == first


def test_another_change_parses_whole() -> None:
    reader = SdpReader()
    first = reader.read(body(1))
    moved = reader.read(body(2, port=7000))
    assert moved == parse_sdp(body(2, port=7000))
    assert moved.media[0] is not first.media[0]
    assert moved.media[0].port == 7000


@pytest.mark.parametrize(
    "origin",
    [
        "o=- 42 x IN IP4 192.0.2.1",
        "o=- 42 2 IN IP4 192.0.2.999",
        "o=- 42 2 IN IP4",
        "o=- 42\r2 IN IP4 192.0.2.1",
        "o=- 42 2\0 IN IP4 192.0.2.1",
    ],
)
def test_a_bad_origin_is_refused_as_parse_sdp_refuses_it(origin: str) -> None:
    reader = SdpReader()
    reader.read(body(1))
    bad = body(2, origin=origin)
    with pytest.raises(SdpParseError) as expected:
        parse_sdp(bad)
    with pytest.raises(SdpParseError) as found:
        reader.read(bad)
    assert str(found.value) == str(expected.value)
    assert reader.read(body(3)) == parse_sdp(body(3))


@pytest.mark.parametrize("name", sorted(BODIES))
def test_real_phones_bodies_read_as_parsed(name: str) -> None:
    reader = SdpReader()
    data = BODIES[name]
    assert reader.read(data) == parse_sdp(data)
    origin = parse_sdp(data).origin
    line = f"{origin.sess_id} {origin.sess_version} ".encode()
    bumped = data.replace(line, f"{origin.sess_id} {origin.sess_version + 1} ".encode(), 1)
    assert bumped != data
    again = reader.read(bumped)
    assert again == parse_sdp(bumped)
    assert again.origin.sess_version == origin.sess_version + 1


def test_bodies_without_a_whole_origin_line_parse_whole() -> None:
    reader = SdpReader()
    with pytest.raises(SdpParseError):
        reader.read(sdp("v=0", "s=-"))
    last = b"v=0\no=- 1 1 IN IP4 192.0.2.1"
    assert reader.read(last) == parse_sdp(last)
    assert reader.read(last.replace(b" 1 IN", b" 2 IN")).origin.sess_version == 2


def test_with_origin_is_replace_keeping_the_views() -> None:
    first = parse_sdp(body(1))
    session_direction = first.direction
    origin = parse_sdp(body(7)).origin
    moved = first.with_origin(origin)
    assert moved == replace(first, origin=origin)
    assert moved.origin is origin and first.origin.sess_version == 1
    assert moved.direction == session_direction and moved.media is first.media
