"""DTMF: RFC 4733 payloads, the receiver under loss and reordering, the sender, in-band."""

from __future__ import annotations

import numpy as np
import pytest

from switchboard.media.dtmf import (
    BLOCK_SIZE,
    DtmfEnded,
    DtmfEvent,
    DtmfReceiver,
    DtmfStarted,
    DtmfToneDetector,
    TelephoneEvent,
    event_code,
    generate_dtmf,
)
from switchboard.media.errors import DtmfError
from switchboard.media.rtp import RtpPacket, build_red, parse_red
from switchboard.media.tones import dtmf_tone, sine


def test_payload_wire_format() -> None:
    event = TelephoneEvent(event=5, end=True, volume=10, duration=800)
    assert event.serialize() == bytes.fromhex("05 8a 0320")
    assert TelephoneEvent.parse(bytes.fromhex("05 8a 0320")) == event
    assert TelephoneEvent.parse(bytes.fromhex("0b 0a 00a0 ffff")) == TelephoneEvent(
        11, False, 10, 160
    )


def test_reserved_bit_is_ignored() -> None:
    assert TelephoneEvent.parse(bytes.fromhex("01 4a 0000")) == TelephoneEvent(1, False, 10, 0)


@pytest.mark.parametrize(
    ("code", "digit"),
    [
        (0, "0"),
        (9, "9"),
        (10, "*"),
        (11, "#"),
        (12, "A"),
        (15, "D"),
        (16, "flash"),
        (40, "event-40"),
    ],
)
def test_event_names(code: int, digit: str) -> None:
    assert TelephoneEvent(code, False, 0, 0).digit == digit


def test_bad_payloads() -> None:
    with pytest.raises(DtmfError, match="3 octets"):
        TelephoneEvent.parse(b"\x01\x02\x03")
    with pytest.raises(DtmfError):
        TelephoneEvent(256, False, 0, 0).serialize()
    with pytest.raises(DtmfError):
        TelephoneEvent(1, False, 64, 0).serialize()
    with pytest.raises(DtmfError):
        TelephoneEvent(1, False, 0, 65536).serialize()


def test_event_codes() -> None:
    assert [event_code(d) for d in "0123456789*#abcd"] == list(range(16))
    for bad in ("E", "", "12"):
        with pytest.raises(DtmfError):
            event_code(bad)


def packets_for(digit: str, timestamp: int = 1000, seq: int = 1, **kw: int) -> list[RtpPacket]:
    return generate_dtmf(
        digit, payload_type=101, ssrc=7, sequence_number=seq, timestamp=timestamp, **kw
    )


def test_generator_sequence() -> None:
    packets = packets_for("5", duration_ms=100)
    events = [TelephoneEvent.parse(p.payload) for p in packets]
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert [p.sequence_number for p in packets] == list(range(1, 8))
    assert {p.timestamp for p in packets} == {1000}
    assert {e.event for e in events} == {5}
    assert packets_for("1", seq=65535)[1].sequence_number == 0
    with pytest.raises(DtmfError):
        packets_for("1", duration_ms=0)
    with pytest.raises(DtmfError):
        packets_for("1", duration_ms=9000)


def feed(receiver: DtmfReceiver, packets: list[RtpPacket], start: float = 0.0) -> list[DtmfEvent]:
    out: list[DtmfEvent] = []
    for index, packet in enumerate(packets):
        out += receiver.receive(packet.payload, packet.timestamp, start + 0.02 * index)
    return out


def test_receiver_clean_digit() -> None:
    receiver = DtmfReceiver()
    assert feed(receiver, packets_for("7")) == [
        DtmfStarted("7", 1000),
        DtmfEnded("7", 1000, 800, 100.0),
    ]
    assert receiver.get_timer() is None


def test_receiver_lost_start_and_lost_ends() -> None:
    receiver = DtmfReceiver()
    first = packets_for("1", timestamp=1000)[2:4]  # start lost, all ends lost
    second = packets_for("2", timestamp=3000, seq=20)
    events = feed(receiver, first + second)
    assert events == [
        DtmfStarted("1", 1000),
        DtmfEnded("1", 1000, 640, 80.0),
        DtmfStarted("2", 3000),
        DtmfEnded("2", 3000, 800, 100.0),
    ]


def test_receiver_end_repeats_and_duplicates_report_once() -> None:
    receiver = DtmfReceiver()
    packets = packets_for("#")
    events = feed(receiver, packets + packets)
    assert events == [DtmfStarted("#", 1000), DtmfEnded("#", 1000, 800, 100.0)]


def test_receiver_reordering_keeps_the_longest_duration() -> None:
    receiver = DtmfReceiver()
    packets = packets_for("9")
    order = [packets[0], packets[2], packets[1], packets[4], packets[3], packets[5]]
    assert feed(receiver, order) == [DtmfStarted("9", 1000), DtmfEnded("9", 1000, 800, 100.0)]


def test_receiver_ignores_a_late_packet_of_an_older_event() -> None:
    receiver = DtmfReceiver()
    old = packets_for("1", timestamp=1000)
    new = packets_for("2", timestamp=5000)
    events = feed(receiver, old[:2] + new[:2] + old[2:3])
    assert events == [
        DtmfStarted("1", 1000),
        DtmfEnded("1", 1000, 320, 40.0),
        DtmfStarted("2", 5000),
    ]


def test_receiver_ignores_another_code_on_a_finished_timestamp() -> None:
    receiver = DtmfReceiver()
    feed(receiver, packets_for("1"))
    stray = TelephoneEvent(2, False, 10, 160).serialize()
    assert receiver.receive(stray, 1000, 1.0) == []


def test_receiver_timestamp_wrap_is_newer() -> None:
    receiver = DtmfReceiver()
    events = feed(
        receiver, packets_for("3", timestamp=0xFFFFFF00) + packets_for("4", timestamp=0x100)
    )
    assert [type(e).__name__ for e in events] == ["DtmfStarted", "DtmfEnded"] * 2


def test_receiver_timeout_ends_a_digit_without_end_packets() -> None:
    receiver = DtmfReceiver(timeout=0.5)
    events = feed(receiver, packets_for("6")[:3], start=10.0)
    assert events == [DtmfStarted("6", 1000)]
    assert receiver.get_timer() == pytest.approx(10.54)
    assert receiver.handle_timer(10.5) == []
    assert receiver.handle_timer(10.6) == [DtmfEnded("6", 1000, 480, 60.0)]
    assert receiver.handle_timer(11.0) == []
    assert receiver.get_timer() is None


def test_receiver_wideband_clock() -> None:
    receiver = DtmfReceiver(clock_rate=16000)
    packets = packets_for("0", clock_rate=16000)
    assert feed(receiver, packets)[-1] == DtmfEnded("0", 1000, 1600, 100.0)


def test_receiver_reads_packed_events() -> None:
    # RFC 4733 §2.5.1.5: the final report of "1" (800 samples from 1000) with "2" after it.
    packed = (
        TelephoneEvent(1, True, 10, 800).serialize() + TelephoneEvent(2, False, 10, 160).serialize()
    )
    receiver = DtmfReceiver()
    assert receiver.receive(packed + b"\x00", 1000, 0.0) == [
        DtmfStarted("1", 1000),
        DtmfEnded("1", 1000, 800, 100.0),
        DtmfStarted("2", 1800),
    ]
    assert receiver.receive(packed, 1000, 0.02) == []  # retransmitted: nothing new
    assert receiver.receive(TelephoneEvent(2, True, 10, 480).serialize(), 1800, 0.04) == [
        DtmfEnded("2", 1800, 480, 60.0)
    ]
    assert TelephoneEvent.parse_all(packed) == [
        TelephoneEvent.parse(packed),
        TelephoneEvent.parse(packed[4:]),
    ]


def test_receiver_fed_from_rfc_2198_redundancy() -> None:
    # Each packet carries the two previous updates as redundant blocks; the second packet
    # is lost, the third's redundancy fills in.
    updates = [TelephoneEvent(4, i == 3, 10, 160 * (i + 1)).serialize() for i in range(4)]
    packets = [build_red([(101, 0, updates[i - 1]), (101, 0, updates[i])]) for i in range(1, 4)]
    receiver = DtmfReceiver()
    events: list[DtmfEvent] = []
    for index in (0, 2):
        for _, offset, data in parse_red(packets[index]):
            events += receiver.receive(data, (8000 - offset) & 0xFFFFFFFF, index * 0.02)
    assert events == [DtmfStarted("4", 8000), DtmfEnded("4", 8000, 640, 80.0)]


def test_receiver_refuses_bad_payload() -> None:
    with pytest.raises(DtmfError):
        DtmfReceiver().receive(b"\x00", 0, 0.0)


# --- in-band ------------------------------------------------------------------------------


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(8000 * seconds), dtype=np.int16)


@pytest.mark.parametrize("digit", "0123456789*#ABCD")
def test_detects_every_digit(digit: str) -> None:
    pcm = np.concatenate((silence(0.1), dtmf_tone(digit, 0.1), silence(0.1)))
    events = DtmfToneDetector().feed(pcm)
    assert [type(e) for e in events] == [DtmfStarted, DtmfEnded]
    assert {e.digit for e in events} == {digit}
    ended = events[1]
    assert isinstance(ended, DtmfEnded)
    assert 80 <= ended.duration_ms <= 130


def test_detects_a_digit_fed_in_20_ms_frames_with_noise() -> None:
    rng = np.random.default_rng(1)
    signal = np.concatenate(
        (silence(0.2), dtmf_tone("5", 0.2), silence(0.1), dtmf_tone("8", 0.1), silence(0.2))
    )
    noisy = (signal + rng.normal(0, 300, len(signal))).astype(np.int16)
    detector = DtmfToneDetector()
    events: list[DtmfEvent] = []
    for start in range(0, len(noisy), 160):
        events += detector.feed(noisy[start : start + 160])
    assert [(type(e).__name__, e.digit) for e in events] == [
        ("DtmfStarted", "5"),
        ("DtmfEnded", "5"),
        ("DtmfStarted", "8"),
        ("DtmfEnded", "8"),
    ]


def test_rejects_noise_speechlike_tones_and_bad_twist() -> None:
    rng = np.random.default_rng(2)
    detector = DtmfToneDetector()
    assert detector.feed(rng.normal(0, 3000, 16000).astype(np.int16)) == []
    assert detector.feed(sine(1000, 1.0)) == []
    assert detector.feed(sine(697, 1.0)) == []
    low = sine(697, 0.5, amplitude=0.4).astype(np.int32)
    weak_high = sine(1209, 0.5, amplitude=0.4 * 10 ** (-12 / 20))
    assert detector.feed((low + weak_high).astype(np.int16)) == []
    weak_low = sine(697, 0.5, amplitude=0.4 * 10 ** (-6 / 20)).astype(np.int32)
    high = sine(1209, 0.5, amplitude=0.4)
    assert detector.feed((weak_low + high).astype(np.int16)) == []
    two_rows = sine(697, 0.5, amplitude=0.3).astype(np.int32) + sine(770, 0.5, amplitude=0.3)
    assert detector.feed((two_rows + sine(1209, 0.5, amplitude=0.3)).astype(np.int16)) == []


def test_a_quiet_digit_is_ignored() -> None:
    quiet = dtmf_tone("1", 0.2, amplitude=0.005)  # about 160 of 32767: -46 dBFS per tone
    assert DtmfToneDetector().feed(quiet) == []
    assert [
        type(e)
        for e in DtmfToneDetector(min_amplitude=50).feed(np.concatenate((quiet, silence(0.1))))
    ] == [DtmfStarted, DtmfEnded]


def test_a_one_block_glitch_does_not_split_a_digit() -> None:
    tone = dtmf_tone("1", 0.2)
    tone[BLOCK_SIZE * 3 : BLOCK_SIZE * 4] = 0
    events = DtmfToneDetector().feed(np.concatenate((tone, silence(0.1))))
    assert [type(e) for e in events] == [DtmfStarted, DtmfEnded]


def test_short_input_waits_for_a_whole_block() -> None:
    assert DtmfToneDetector().feed(dtmf_tone("1", 0.01)) == []
