"""Fuzzing: the media parsers raise nothing but their own MediaError subclass."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.media import g711
from switchboard.media.dtmf import DtmfReceiver, TelephoneEvent
from switchboard.media.errors import DtmfError, RtcpError, RtpError
from switchboard.media.jitter import JitterBuffer
from switchboard.media.rtcp import is_rtcp, parse_compound, serialize_compound
from switchboard.media.rtp import (
    RtpPacket,
    build_red,
    parse_header_extensions,
    parse_red,
    peek,
    translate_payload,
)

fuzz = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
RTP_START = st.sampled_from([b"\x80", b"\x90", b"\xa0", b"\xb3", b"\x8f", b"\x00"])
RTCP_START = st.sampled_from([b"\x80\xc8", b"\x81\xc9", b"\x82\xca", b"\x81\xcb", b"\xa0\xcc"])


@fuzz
@given(st.binary(max_size=80) | st.tuples(RTP_START, st.binary(max_size=80)).map(b"".join))
def test_rtp_parse(data: bytes) -> None:
    result = peek(data)
    with contextlib.suppress(RtpError):
        translate_payload(data, g711.ULAW_TO_ALAW_BYTES, 8)
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert result == (packet.payload_type, packet.sequence_number, packet.timestamp, packet.ssrc)
    assert RtpPacket.parse(packet.serialize()) == packet
    if packet.extension_profile is not None:
        with contextlib.suppress(RtpError):
            parse_header_extensions(packet.extension_profile, packet.extension)


@fuzz
@given(st.binary(max_size=40))
def test_red(payload: bytes) -> None:
    try:
        blocks = parse_red(payload)
    except RtpError:
        return
    assert parse_red(build_red(blocks)) == blocks


@fuzz
@given(st.integers(0, 0xFFFF), st.binary(max_size=40))
def test_header_extensions(profile: int, data: bytes) -> None:
    with contextlib.suppress(RtpError):
        parse_header_extensions(profile, data)


@fuzz
@given(st.binary(max_size=120) | st.tuples(RTCP_START, st.binary(max_size=120)).map(b"".join))
def test_rtcp_parse(data: bytes) -> None:
    is_rtcp(data)
    try:
        packets = parse_compound(data)
    except RtcpError:
        return
    with contextlib.suppress(RtcpError):
        assert parse_compound(serialize_compound(packets)) == packets


@fuzz
@given(st.lists(st.tuples(st.binary(max_size=6), st.integers(0, 0xFFFFFFFF)), max_size=20))
def test_dtmf_receiver(packets: list[tuple[bytes, int]]) -> None:
    receiver = DtmfReceiver()
    for index, (payload, timestamp) in enumerate(packets):
        with contextlib.suppress(DtmfError):
            receiver.receive(payload, timestamp, index * 0.02)
        with contextlib.suppress(DtmfError):
            TelephoneEvent.parse(payload)
    receiver.handle_timer(100.0)


@fuzz
@given(
    st.lists(
        st.integers(-8, 70).map(lambda index: (1000 + 160 * index) & 0xFFFFFFFF)
        | st.integers(0, 0xFFFFFFFF),
        max_size=40,
    )
)
def test_jitter_buffer_always_drains(timestamps: list[int]) -> None:
    buffer = JitterBuffer(depth=3, max_gap=20)
    released = 0
    for timestamp in timestamps:
        released += len(buffer.put(timestamp, b"x"))
    released += len(buffer.flush())
    assert buffer.flush() == []
    assert released >= len(timestamps) - buffer.late - buffer.duplicates
