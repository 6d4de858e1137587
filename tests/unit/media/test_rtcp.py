"""RTCP packets (RFC 3550 §6), compound packets and rtcp-mux demultiplexing (RFC 5761)."""

from __future__ import annotations

import struct

import pytest

from switchboard.media.errors import RtcpError
from switchboard.media.rtcp import (
    NTP_UNIX_OFFSET,
    RTCP_SR,
    SDES_CNAME,
    SDES_TOOL,
    RtcpApp,
    RtcpBye,
    RtcpPacket,
    RtcpReceiverReport,
    RtcpReportBlock,
    RtcpSdesChunk,
    RtcpSenderReport,
    RtcpSourceDescription,
    RtcpUnknown,
    is_rtcp,
    ntp_from_unix,
    ntp_short,
    parse_compound,
    rtcp_interval,
    serialize_compound,
)
from switchboard.media.rtp import RtpPacket

BLOCK = RtcpReportBlock(
    ssrc=0x11223344,
    fraction_lost=64,
    packets_lost=-3,
    highest_sequence=0x0001_0005,
    jitter=42,
    lsr=0xAABBCCDD,
    dlsr=0x00010000,
)
SR = RtcpSenderReport(0x01020304, 0x83AA7E80_80000000, 160, 5, 800, (BLOCK,))
RR = RtcpReceiverReport(0x05060708, (BLOCK, BLOCK))
SDES = RtcpSourceDescription(
    (
        RtcpSdesChunk(0x01020304, ((SDES_CNAME, b"alice@192.0.2.1"),)),
        RtcpSdesChunk(0x0A0B0C0D, ((SDES_CNAME, b"b"), (SDES_TOOL, b"switchboard"))),
        RtcpSdesChunk(0x0E0F1011, ()),
    )
)
BYE = RtcpBye((0x01020304, 0x05060708), b"hangup")
APP = RtcpApp(3, 0x01020304, b"TEST", b"\x00\x01\x02\x03")
UNKNOWN = RtcpUnknown(205, 1, b"\x00" * 8)
ALL: list[RtcpPacket] = [SR, RR, SDES, BYE, APP, UNKNOWN]


def test_report_block_wire_format() -> None:
    data = BLOCK.serialize()
    assert data == bytes.fromhex("11223344 40fffffd 00010005 0000002a aabbccdd 00010000")
    assert RtcpReportBlock.parse(data, 0) == BLOCK


def test_report_block_clamps_cumulative_loss() -> None:
    block = RtcpReportBlock(1, 0, 1 << 30, 0, 0, 0, 0)
    assert RtcpReportBlock.parse(block.serialize(), 0).packets_lost == (1 << 23) - 1
    block = RtcpReportBlock(1, 0, -(1 << 30), 0, 0, 0, 0)
    assert RtcpReportBlock.parse(block.serialize(), 0).packets_lost == -(1 << 23)


def test_sender_report_wire_format() -> None:
    data = SR.serialize()
    assert data[:4] == bytes.fromhex("81c8000c")  # V=2 RC=1, PT=200, 12 words follow
    assert len(data) == 52


@pytest.mark.parametrize("packet", ALL, ids=lambda packet: type(packet).__name__)
def test_each_packet_round_trips(packet: RtcpPacket) -> None:
    data = packet.serialize()
    assert len(data) % 4 == 0
    assert parse_compound(data) == [packet]


def test_compound_round_trip_whole_and_with_trailing_data() -> None:
    data = serialize_compound(ALL)
    assert parse_compound(data) == ALL
    with pytest.raises(RtcpError, match="octets after the last"):
        parse_compound(data + b"\x80")
    with pytest.raises(RtcpError):
        parse_compound(data + b"\x80\xc8\x00\x05")


def test_every_truncation_is_an_error_or_a_prefix() -> None:
    data = serialize_compound(ALL)
    for end in range(len(data)):
        try:
            packets = parse_compound(data[:end])
        except RtcpError:
            continue
        assert data.startswith(serialize_compound(packets))


def test_profile_extension_of_sr_and_rr_kept() -> None:
    sr = RtcpSenderReport(1, 2, 3, 4, 5, (), b"\x01\x02\x03\x04")
    rr = RtcpReceiverReport(1, (), b"\x05\x06\x07\x08")
    assert parse_compound(sr.serialize() + rr.serialize()) == [sr, rr]


def test_bye_without_reason() -> None:
    bye = RtcpBye((0x01020304,))
    assert bye.serialize() == bytes.fromhex("81cb0001 01020304")
    assert parse_compound(bye.serialize()) == [bye]


def test_padding_on_the_last_packet() -> None:
    body = struct.pack("!I", 7) + b"\x00\x00\x00\x04"
    data = struct.pack("!BBH", 0xA0, 201, 2) + body
    assert parse_compound(data) == [RtcpReceiverReport(7)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\xc9\x00", "at least 4"),
        (b"\x40\xc9\x00\x00", "version 1"),
        (b"\x80\xc9\x00\x02\x00\x00\x00\x01", "only 8 left"),
        (b"\xa0\xc9\x00\x01\x00\x00\x00\x01" + RR.serialize(), "not the last"),
        (b"\xa0\xc9\x00\x01\x00\x00\x00\x00", "padding count 0"),
        (b"\xa0\xc9\x00\x01\x00\x00\x00\x09", "padding count 9"),
        (b"\x81\xc8\x00\x06" + b"\x00" * 24, "SR with 1 reports"),
        (b"\x81\xc9\x00\x01" + b"\x00" * 4, "RR with 1 reports"),
        (b"\x81\xca\x00\x00", "without its SSRC"),
        (b"\x81\xca\x00\x01\x00\x00\x00\x01", "terminating null"),
        (b"\x81\xca\x00\x02\x00\x00\x00\x01\x01\x05ab\x00", "cut short"),
        (b"\x81\xca\x00\x02\x00\x00\x00\x01\x01\x01a\x02", "no length"),
        (b"\x82\xcb\x00\x01\x00\x00\x00\x01", "BYE with 2"),
        (b"\x81\xcb\x00\x02\x00\x00\x00\x01\x09abc", "reason of 9"),
        (b"\x80\xcc\x00\x01\x00\x00\x00\x01", "APP of 4"),
    ],
)
def test_malformed_packets_say_why(data: bytes, message: str) -> None:
    with pytest.raises(RtcpError, match=message):
        parse_compound(data)


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (RtcpReportBlock(1, 256, 0, 0, 0, 0, 0), "fraction lost 256"),
        (RtcpReportBlock(1 << 32, 0, 0, 0, 0, 0, 0), "out of range"),
        (RtcpSenderReport(1, 1 << 64, 0, 0, 0), "out of range"),
        (RtcpReceiverReport(-1), "SSRC -1"),
        (RtcpSourceDescription((RtcpSdesChunk(1, ((0, b"x"),)),)), "SDES item 0"),
        (RtcpBye((1,), b"x" * 256), "at most 255"),
        (RtcpApp(1, 1, b"abc"), "4 octets"),
        (RtcpApp(1, 1, b"abcd", b"xyz"), "whole words"),
        (RtcpApp(32, 1, b"abcd"), "count 32"),
        (RtcpUnknown(205, 0, b"abc"), "whole words"),
    ],
)
def test_builders_refuse_bad_fields(packet: RtcpReportBlock | RtcpPacket, message: str) -> None:
    with pytest.raises(RtcpError, match=message):
        packet.serialize()


def test_rtcp_mux_demultiplexing() -> None:
    assert is_rtcp(SR.serialize())
    assert is_rtcp(RR.serialize())
    assert is_rtcp(UNKNOWN.serialize())
    assert not is_rtcp(RtpPacket(0, 1, 2, 3).serialize())
    assert not is_rtcp(RtpPacket(96, 1, 2, 3, marker=True).serialize())  # 0xe0 > 223
    assert not is_rtcp(RtpPacket(127, 1, 2, 3).serialize())
    assert not is_rtcp(b"\x80")
    assert is_rtcp(b"\x80\xc0") and is_rtcp(b"\x80\xdf") and not is_rtcp(b"\x80\xbf")


def test_ntp_time() -> None:
    assert ntp_from_unix(0.0) == NTP_UNIX_OFFSET << 32
    assert ntp_from_unix(1.5) == ((NTP_UNIX_OFFSET + 1) << 32) | 0x80000000
    assert ntp_short(0x0123_4567_89AB_CDEF) == 0x456789AB
    assert parse_compound(SR.serialize())[0] == SR
    assert SR.serialize()[0:2] == bytes((0x81, RTCP_SR))


def test_rtcp_interval_a7() -> None:
    # A two-party call: both send, so no sender/receiver split; the 5 s minimum applies,
    # spread over [0.5, 1.5) and divided by e - 3/2.
    assert rtcp_interval(
        2, 2, rtcp_bw=400.0, we_sent=True, avg_rtcp_size=100.0, initial=False, random_value=0.5
    ) == pytest.approx(5 / 1.21828)
    assert rtcp_interval(
        2, 2, rtcp_bw=400.0, we_sent=True, avg_rtcp_size=100.0, initial=True, random_value=0.0
    ) == pytest.approx(1.25 / 1.21828)
    # 100 members, 1 sender, 1000 octets/s RTCP bandwidth, 200-octet reports:
    # receivers share 750 octets/s among 99: 200 * 99 / 750 = 26.4 s.
    assert rtcp_interval(
        100, 1, rtcp_bw=1000.0, we_sent=False, avg_rtcp_size=200.0, initial=False, random_value=0.5
    ) == pytest.approx(26.4 / 1.21828)
    # The sender shares 250 octets/s alone: 200 / 250 = 0.8 s, raised to the minimum.
    assert rtcp_interval(
        100, 1, rtcp_bw=1000.0, we_sent=True, avg_rtcp_size=200.0, initial=False, random_value=0.5
    ) == pytest.approx(5 / 1.21828)
