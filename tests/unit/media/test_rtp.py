"""RTP packets (RFC 3550 §5.1), header extensions (RFC 8285) and A.1 sequence accounting."""

from __future__ import annotations

import struct

import pytest

from switchboard.media import g711
from switchboard.media.errors import RtpError
from switchboard.media.rtp import (
    MAX_DROPOUT,
    ONE_BYTE_PROFILE,
    TWO_BYTE_PROFILE,
    RtpPacket,
    RtpSequence,
    build_header_extensions,
    build_red,
    header_size,
    parse_header_extensions,
    parse_red,
    peek,
    seq_delta,
    timestamp_delta,
    translate_payload,
    with_payload_type,
)

# V=2, P=0, X=0, CC=0, M=1, PT=0, seq=0x1234, ts=0xDEADBEEF, SSRC=0x01020304, 4 payload octets
SIMPLE = bytes.fromhex("80 80 1234 deadbeef 01020304") + b"\xff\xfe\xfd\xfc"


def test_parse_every_field_of_a_simple_packet() -> None:
    packet = RtpPacket.parse(SIMPLE)
    assert packet == RtpPacket(
        payload_type=0,
        sequence_number=0x1234,
        timestamp=0xDEADBEEF,
        ssrc=0x01020304,
        payload=b"\xff\xfe\xfd\xfc",
        marker=True,
    )
    assert packet.serialize() == SIMPLE


def test_parse_csrc_extension_and_padding() -> None:
    data = (
        bytes.fromhex("b2 08 0001 00000010 0000000a")  # V=2 P X CC=2, PT=8
        + struct.pack("!II", 11, 12)
        + struct.pack("!HH", ONE_BYTE_PROFILE, 1)
        + bytes.fromhex("10 aa 00 00")
        + b"payload"
        + b"\x00\x00\x03"
    )
    packet = RtpPacket.parse(data)
    assert packet.csrc == (11, 12)
    assert packet.extension_profile == ONE_BYTE_PROFILE
    assert packet.extension == bytes.fromhex("10aa0000")
    assert packet.payload == b"payload"
    assert packet.padding == 3
    assert packet.payload_type == 8
    assert not packet.marker
    assert packet.serialize() == data
    assert parse_header_extensions(packet.extension_profile, packet.extension) == [(1, b"\xaa")]


def test_parse_accepts_memoryview_and_bytearray() -> None:
    assert RtpPacket.parse(memoryview(SIMPLE)) == RtpPacket.parse(bytearray(SIMPLE))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SIMPLE[:11], "at least 12"),
        (b"\x40" + SIMPLE[1:], "version 1"),
        (b"\x81" + SIMPLE[1:12], "CSRC"),
        (b"\x90" + SIMPLE[1:12] + b"\xbe\xde", "extension cut short"),
        (b"\x90" + SIMPLE[1:12] + b"\xbe\xde\x00\x02abcd", "extension of 2 words"),
        (b"\xa0" + SIMPLE[1:] + b"\x00", "padding count 0"),
        (b"\xa0" + SIMPLE[1:12] + b"\x05", "padding count 5"),
    ],
)
def test_parse_rejects_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        RtpPacket.parse(data)


def test_every_truncation_is_an_rtp_error_or_shorter_payload() -> None:
    data = RtpPacket(
        96, 7, 8, 9, b"abcdefgh", csrc=(1,), extension_profile=0xBEDE, extension=b"\x00" * 4
    ).serialize()
    for end in range(len(data)):
        try:
            packet = RtpPacket.parse(data[:end])
        except RtpError:
            continue
        assert data.startswith(packet.serialize())


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (RtpPacket(128, 0, 0, 0), "payload type 128"),
        (RtpPacket(0, 0, 0, 0, csrc=tuple(range(16))), "16 CSRCs"),
        (RtpPacket(0, 0, 0, 0, extension_profile=1, extension=b"abc"), "not words"),
        (RtpPacket(0, 0, 0, 0, padding=256), "padding of 256"),
        (RtpPacket(0, 65536, 0, 0), "out of range"),
        (RtpPacket(0, 0, 0, 1 << 32), "out of range"),
    ],
)
def test_serialize_rejects_out_of_range_fields(packet: RtpPacket, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        packet.serialize()


def test_peek_reads_the_relay_fields() -> None:
    assert peek(SIMPLE) == (0, 0x1234, 0xDEADBEEF, 0x01020304)
    assert peek(memoryview(SIMPLE)) == (0, 0x1234, 0xDEADBEEF, 0x01020304)


@pytest.mark.parametrize(
    "data",
    [SIMPLE[:11], b"\x00" + SIMPLE[1:], b"\xc0" + SIMPLE[1:], b"\x81" + SIMPLE[1:12] + b"abc"],
)
def test_peek_refuses_what_is_not_rtp(data: bytes) -> None:
    assert peek(data) is None


def test_sequence_and_timestamp_deltas_wrap() -> None:
    assert seq_delta(1, 65535) == 2
    assert seq_delta(65535, 1) == -2
    assert seq_delta(5, 5) == 0
    assert seq_delta(0x8000, 0) == -0x8000
    assert timestamp_delta(10, 0xFFFFFFF0) == 26
    assert timestamp_delta(0xFFFFFFF0, 10) == -26


def test_one_byte_extensions_skip_padding_and_stop_at_id_15() -> None:
    data = bytes.fromhex("00 21 aabb 00 f0 11")
    assert parse_header_extensions(ONE_BYTE_PROFILE, data) == [(2, b"\xaa\xbb")]
    assert parse_header_extensions(ONE_BYTE_PROFILE, bytes.fromhex("f0 13")) == []


def test_two_byte_extensions() -> None:
    data = bytes.fromhex("00 05 02 abcd 06 00 00")
    assert parse_header_extensions(0x1003, data) == [(5, b"\xab\xcd"), (6, b"")]


@pytest.mark.parametrize(
    ("profile", "data", "message"),
    [
        (ONE_BYTE_PROFILE, bytes.fromhex("13 aa"), "cut short"),
        (TWO_BYTE_PROFILE, bytes.fromhex("05"), "no length"),
        (TWO_BYTE_PROFILE, bytes.fromhex("05 03 aa"), "cut short"),
        (0x1234, b"", "not RFC 8285"),
    ],
)
def test_bad_extensions(profile: int, data: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        parse_header_extensions(profile, data)


def test_build_extensions_chooses_the_form_and_round_trips() -> None:
    one = [(1, b"\x01"), (14, b"x" * 16)]
    profile, data = build_header_extensions(one)
    assert profile == ONE_BYTE_PROFILE
    assert len(data) % 4 == 0
    assert parse_header_extensions(profile, data) == one
    two = [(15, b"abc"), (1, b"")]
    profile, data = build_header_extensions(two)
    assert profile == TWO_BYTE_PROFILE
    assert parse_header_extensions(profile, data) == two
    assert build_header_extensions([]) == (ONE_BYTE_PROFILE, b"")
    with pytest.raises(RtpError):
        build_header_extensions([(0, b"a")])
    with pytest.raises(RtpError):
        build_header_extensions([(1, b"a" * 256)])


# --- RFC 3550 A.1 -------------------------------------------------------------------------


def test_probation_needs_two_sequential_packets() -> None:
    source = RtpSequence(100)
    assert not source.update(100)
    assert source.update(101)
    assert source.base_seq == 101
    assert source.received == 1
    assert source.expected == 1
    assert source.update(102)
    assert (source.received, source.lost, source.extended_max) == (2, 0, 102)


def test_probation_restarts_on_a_gap() -> None:
    source = RtpSequence(100)
    assert not source.update(100)
    assert not source.update(105)
    assert source.update(106)
    assert source.base_seq == 106


def test_no_probation_counts_the_first_packet() -> None:
    source = RtpSequence(0, min_sequential=0)
    assert source.update(0)
    assert (source.received, source.expected, source.cycles) == (1, 1, 0)


def test_wrap_around_extends_the_sequence() -> None:
    source = RtpSequence(65534, min_sequential=0)
    for seq in (65534, 65535, 0, 1):
        assert source.update(seq)
    assert source.cycles == 65536
    assert source.extended_max == 65537
    assert source.expected == 4
    assert source.lost == 0


def test_loss_duplicates_and_reordering() -> None:
    source = RtpSequence(10, min_sequential=0)
    for seq in (10, 11, 13, 12, 12, 16):
        assert source.update(seq)
    assert source.expected == 7
    assert source.received == 6
    assert source.lost == 1


def test_a_big_jump_is_dropped_until_confirmed() -> None:
    source = RtpSequence(10, min_sequential=0)
    assert source.update(10)
    jump = 10 + MAX_DROPOUT + 5
    assert not source.update(jump)
    assert source.update(jump + 1)  # the source restarted: counts begin again
    assert source.base_seq == jump + 1
    assert source.received == 1
    assert not source.update(30000)
    assert not source.update(40000)


def test_header_size() -> None:
    assert header_size(SIMPLE) == 12
    packet = RtpPacket(0, 1, 2, 3, b"abc", csrc=(1, 2), extension_profile=0xBEDE, extension=b"1234")
    assert header_size(packet.serialize()) == 12 + 8 + 4 + 4
    for data, message in (
        (SIMPLE[:11], "at least 12"),
        (b"\x90" + SIMPLE[1:12] + b"\xbe", "extension cut short"),
        (b"\x90" + SIMPLE[1:12] + b"\xbe\xde\x00\x01", "header takes 20"),
    ):
        with pytest.raises(RtpError, match=message):
            header_size(data)


def test_with_payload_type_keeps_the_marker() -> None:
    renumbered = RtpPacket.parse(with_payload_type(SIMPLE, 101))
    assert (renumbered.payload_type, renumbered.marker) == (101, True)
    assert renumbered.payload == RtpPacket.parse(SIMPLE).payload


def test_translate_payload_transcodes_and_keeps_header_and_padding() -> None:
    ulaw = bytes(range(0, 256, 16))
    packet = RtpPacket(0, 9, 160, 5, ulaw, marker=True, csrc=(4,), padding=3)
    out = RtpPacket.parse(translate_payload(packet.serialize(), g711.ULAW_TO_ALAW_BYTES, 8))
    assert out.payload == g711.ulaw_to_alaw(ulaw)
    assert (out.payload_type, out.marker, out.csrc, out.padding) == (8, True, (4,), 3)
    back = translate_payload(out.serialize(), g711.ALAW_TO_ULAW_BYTES, 0)
    assert RtpPacket.parse(back).payload == g711.alaw_to_ulaw(out.payload)
    bad = b"\xa0" + SIMPLE[1:12] + b"\x05"
    with pytest.raises(RtpError, match="padding of 5"):
        translate_payload(bad, g711.ULAW_TO_ALAW_BYTES, 8)


def test_red_round_trip_and_wire_format() -> None:
    blocks = [
        (101, 320, b"\x05\x0a\x01\x40"),
        (101, 160, b"\x05\x0a\x02\x80"),
        (101, 0, b"\x05\x8a\x03\x20"),
    ]
    payload = build_red(blocks)
    # F=1, PT=101, offset 320, length 4 -> 0xe5 0x05 0x00 0x04
    assert payload[:4] == bytes.fromhex("e5050004")
    assert payload[8] == 101  # the primary's one-octet header
    assert parse_red(payload) == blocks
    assert parse_red(b"\x00") == [(0, 0, b"")]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "ends inside"),
        (b"\xe5\x05", "cut short"),
        (b"\xe5\x05\x00\x04\x65ab", "only 2 left"),
        (b"\xe5\x05\x00\x04", "ends inside"),
    ],
)
def test_bad_red(payload: bytes, message: str) -> None:
    with pytest.raises(RtpError, match=message):
        parse_red(payload)


@pytest.mark.parametrize(
    "blocks",
    [
        [],
        [(128, 0, b""), (0, 0, b"")],
        [(0, 0x4000, b""), (0, 0, b"")],
        [(0, 0, b"x" * 1024), (0, 0, b"")],
    ],
)
def test_build_red_refuses(blocks: list[tuple[int, int, bytes]]) -> None:
    with pytest.raises(RtpError):
        build_red(blocks)
