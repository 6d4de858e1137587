"""Fuzzing: no input makes the SDP parser or the answerer raise anything but an SdpError."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.sdp.errors import SdpError
from switchboard.sdp.negotiate import LocalMedia, make_answer, make_origin
from switchboard.sdp.parse import parse_sdp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sdp"
CORPUS = [path.read_bytes() for path in sorted(FIXTURES.glob("*.sdp"))]
SDP_BYTES = b" \t\r\n:;/=.-vosicbtmaIN IP4 IP6 RTP/AVP 0123456789 rtpmap fmtp sendonly"
LOCAL = LocalMedia("192.0.2.1", 4000, ("opus", "g722", "alaw", "ulaw", "g729"))


def exercise(data: bytes) -> None:
    """What the server does with an offer: parse, answer, serialize."""
    try:
        description = parse_sdp(data)
        assert parse_sdp(description.serialize()) == description
        make_answer(description, LOCAL, make_origin(LOCAL, "1", 1)).serialize()
    except SdpError as error:
        assert error.reason and error.status in (400, 488)
        assert len(error.reason) <= 160
        assert not any(c in error.reason for c in "\r\n\0")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    exercise(data)
    exercise(b"v=0\r\n" + data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(SDP_BYTES)), max_size=300).map(bytes))
def test_random_sdp_alphabet(data: bytes) -> None:
    exercise(b"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\nc=IN IP4 192.0.2.9\r\n" + data)


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "duplicate"]))
        if action == "flip":
            data[at] = draw(st.sampled_from(list(SDP_BYTES) + list(range(256))))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        else:
            end = min(len(data), at + draw(st.integers(1, 40)))
            data[at:at] = data[at:end]
    return bytes(data)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_phone_bodies(data: bytes) -> None:
    exercise(data)
