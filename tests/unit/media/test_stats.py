"""Receive statistics against hand-computed examples and against RFC 3550 A.1/A.8 run
packet by packet; RTT from SR/RR; the MOS estimate."""

from __future__ import annotations

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.media.rtcp import RtcpReportBlock, RtcpSenderReport, ntp_short
from switchboard.media.rtp import RtpSequence
from switchboard.media.stats import (
    ReceiveStatistics,
    SendStatistics,
    mos_estimate,
    round_trip_time,
)


def steady(stats: ReceiveStatistics, seqs: list[int], start: float = 0.0) -> None:
    for seq in seqs:
        stats.record(seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, start + seq * 0.02)


def test_a_clean_stream_has_no_loss_and_no_jitter() -> None:
    stats = ReceiveStatistics(min_sequential=0)
    steady(stats, list(range(50)))
    block = stats.report_block(ssrc=9, now=1.0)
    assert block == RtcpReportBlock(9, 0, 0, 49, 0, 0, 0)
    quality = stats.quality()
    assert (quality.packets_received, quality.packets_lost, quality.loss) == (50, 0, 0.0)
    assert quality.jitter_ms == pytest.approx(0.0, abs=1e-9)
    assert quality.mos == pytest.approx(4.4046, abs=1e-4)


def test_jitter_by_hand() -> None:
    # D1 = 0.025 s * 8000 - 160 = 40 -> J = 40/16 = 2.5
    # D2 = 0.015 s * 8000 - 160 = -40 -> J = 2.5 + (40 - 2.5)/16 = 4.84375
    stats = ReceiveStatistics(min_sequential=0)
    stats.record(0, 0, 0.0)
    stats.record(1, 160, 0.025)
    stats.record(2, 320, 0.040)
    assert stats.pending == 3
    stats.update()
    assert stats.pending == 0
    assert stats.jitter == pytest.approx(4.84375)
    assert stats.jitter_ms == pytest.approx(4.84375 / 8)
    assert stats.report_block(1, 0.0).jitter == 4  # type: ignore[union-attr]


def test_loss_fraction_per_interval_and_cumulative() -> None:
    stats = ReceiveStatistics(min_sequential=0)
    steady(stats, [1, 2, 3, 5, 6, 8, 9, 10])
    block = stats.report_block(1, 0.0)
    assert block is not None
    # expected 10, received 8: fraction (2 << 8) // 10 = 51
    assert (block.fraction_lost, block.packets_lost, block.highest_sequence) == (51, 2, 10)
    assert stats.fraction_lost == pytest.approx(51 / 256)
    steady(stats, list(range(11, 21)))
    block = stats.report_block(1, 0.0)
    assert block is not None
    assert (block.fraction_lost, block.packets_lost, block.highest_sequence) == (0, 2, 20)
    block = stats.report_block(1, 0.0)
    assert block is not None and block.fraction_lost == 0


def test_duplicates_make_loss_negative_but_fraction_zero() -> None:
    stats = ReceiveStatistics(min_sequential=0)
    steady(stats, [1, 2, 2, 3])
    block = stats.report_block(1, 0.0)
    assert block is not None
    assert (block.packets_lost, block.fraction_lost) == (-1, 0)
    assert stats.quality().packets_lost == 0


def test_probation_and_nothing_yet() -> None:
    stats = ReceiveStatistics()
    assert stats.report_block(1, 0.0) is None
    stats.record(100, 0, 0.0)
    assert stats.report_block(1, 0.0) is None
    assert stats.quality().packets_received == 0
    steady(stats, [101, 102, 103])
    block = stats.report_block(1, 0.0)
    assert block is not None
    assert (block.highest_sequence, block.packets_lost) == (103, 0)
    assert stats.packets_invalid == 1
    assert ReceiveStatistics().quality().packets_expected == 0


def test_wrap_around_in_one_batch_and_across_batches() -> None:
    stats = ReceiveStatistics(min_sequential=0)
    steady(stats, list(range(65530, 65540)))
    stats.update()
    steady(stats, list(range(65540, 65550)))
    block = stats.report_block(1, 0.0)
    assert block is not None
    assert block.highest_sequence == 65549
    assert block.packets_lost == 0


def test_lsr_and_dlsr() -> None:
    stats = ReceiveStatistics(min_sequential=0)
    steady(stats, [1, 2])
    sr = RtcpSenderReport(5, 0x83AA7E80_80000000, 0, 0, 0)
    stats.sender_report_received(sr, now=10.0)
    block = stats.report_block(5, now=11.5)
    assert block is not None
    assert block.lsr == 0x7E808000
    assert block.dlsr == 98304  # 1.5 s in 1/65536 s


def test_round_trip_time_from_our_sender_reports() -> None:
    sender = SendStatistics()
    for size in (160, 160, 160):
        sender.record(size)
    ntp = 0x83AA7E80_00000000
    sr = sender.sender_report(ssrc=1, ntp_timestamp=ntp, rtp_timestamp=480, now=5.0)
    assert (sr.packet_count, sr.octet_count, sr.rtp_timestamp) == (3, 480, 480)
    block = RtcpReportBlock(1, 0, 0, 0, 0, ntp_short(ntp), 32768)  # DLSR 0.5 s
    assert sender.round_trip_time(block, now=5.62) == pytest.approx(0.12)
    assert sender.round_trip_time(RtcpReportBlock(1, 0, 0, 0, 0, 0, 0), 6.0) is None
    assert sender.round_trip_time(RtcpReportBlock(1, 0, 0, 0, 0, 1234, 0), 6.0) is None
    assert sender.round_trip_time(block, now=5.1) == 0.0
    for second in range(20):
        sender.sender_report(1, ntp + (second << 32), 0, now=float(second))
    assert sender.round_trip_time(block, 30.0) is None  # forgotten: only 8 are kept


def test_round_trip_time_formula() -> None:
    # RFC 3550 §6.4.1 example: A = 0xb710:8000, LSR = 0xb705:2000, DLSR = 0x0005:4000
    assert round_trip_time(0xB7108000, 0xB7052000, 0x00054000) == pytest.approx(6.125)
    assert round_trip_time(0xB7108000, 0, 5) is None
    assert round_trip_time(0xB7050000, 0xB7052000, 0) == 0.0


def test_mos_estimate() -> None:
    assert mos_estimate(0.0, 0.0) == pytest.approx(4.4046, abs=1e-4)
    assert mos_estimate(0.01, 0.0) == pytest.approx(4.3220, abs=1e-4)
    assert mos_estimate(0.0, 0.0, rtt_ms=400.0) == pytest.approx(4.1842, abs=1e-4)
    assert mos_estimate(0.0, 2000.0) == 1.0
    assert mos_estimate(0.05, 20.0, 100.0) < mos_estimate(0.01, 20.0, 100.0)
    quality = ReceiveStatistics().quality(rtt=0.4)
    assert quality.rtt_ms == pytest.approx(400.0)


# --- the batch path equals A.1 + A.8 packet by packet --------------------------------------


def reference(
    seqs: list[int], arrivals: list[float], min_sequential: int
) -> tuple[int, int, float]:
    source = RtpSequence(seqs[0], min_sequential)
    jitter = 0.0
    last: tuple[float, int] | None = None
    for seq, arrival in zip(seqs, arrivals, strict=True):
        if not source.update(seq):
            continue
        timestamp = seq * 160
        if last is not None:
            d = (arrival - last[0]) * 8000 - (timestamp - last[1])
            jitter += (abs(d) - jitter) / 16
        last = (arrival, timestamp)
    return source.received, source.expected, jitter


steps = st.one_of(
    st.integers(1, 1),
    st.integers(-5, 5),
    st.integers(2, 2990),
    st.integers(3000, 40000),
    st.integers(-200, -90),
)


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(0, 65535),
    moves=st.lists(steps, min_size=1, max_size=120),
    delays=st.lists(st.floats(0, 0.2), min_size=120, max_size=120),
    batch=st.integers(1, 50),
    min_sequential=st.integers(0, 2),
)
def test_batches_match_a1_and_a8_packet_by_packet(
    start: int, moves: list[int], delays: list[float], batch: int, min_sequential: int
) -> None:
    seqs = [start]
    for move in moves:
        seqs.append(seqs[-1] + move)
    seqs = [seq & 0xFFFF for seq in seqs]
    arrivals = [index * 0.02 + delays[index % len(delays)] for index in range(len(seqs))]
    stats = ReceiveStatistics(min_sequential=min_sequential)
    for index, (seq, arrival) in enumerate(zip(seqs, arrivals, strict=True)):
        stats.record(seq, (seq * 160) & 0xFFFFFFFF, arrival)
        if index % batch == batch - 1:
            stats.update()
    stats.update()
    received, expected, jitter = reference(seqs, arrivals, min_sequential)
    assert stats.sequence is not None
    assert (stats.sequence.received, stats.sequence.expected) == (received, expected)
    assert stats.jitter == pytest.approx(jitter, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("count", [100, 600])  # the Python fold, and numpy's
def test_the_relay_path_appends_the_header_octets(count: int) -> None:
    from switchboard.media.rtp import RtpPacket

    by_method = ReceiveStatistics(min_sequential=0)
    by_append = ReceiveStatistics(min_sequential=0)
    for seq in range(count):
        arrival = seq * 0.02 + (0.003 if seq % 3 else 0.0)
        timestamp = (seq * 160 + 0xFFFFF000) & 0xFFFFFFFF  # wraps within the batch
        data = RtpPacket(0, seq, timestamp, 77, bytes(160)).serialize()
        by_append.record_header(data[2:8])
        by_append.record_arrival(arrival)
        by_method.record(seq, timestamp, arrival)
    assert by_append.pending == count
    assert by_append.quality() == by_method.quality()
    assert by_append.jitter == by_method.jitter > 0


def test_pending_packets_hold_nothing_the_cyclic_collector_tracks() -> None:
    stats = ReceiveStatistics()
    for seq in range(50):
        stats.record_header(bytes([seq >> 8, seq & 0xFF, 0, 0, 0, seq]))
        stats.record_arrival(seq * 0.02)
    assert not gc.is_tracked(stats.headers) and not gc.is_tracked(stats.arrivals[0])
    assert stats.pending == 50


def test_a_batch_longer_than_the_filter_memory() -> None:
    seqs = list(range(3000))
    arrivals = [seq * 0.02 + (0.01 if seq % 7 == 0 else 0.0) for seq in seqs]
    stats = ReceiveStatistics(min_sequential=0)
    for seq, arrival in zip(seqs, arrivals, strict=True):
        stats.record(seq, seq * 160, arrival)
    stats.update()
    assert stats.jitter == pytest.approx(reference(seqs, arrivals, 0)[2], rel=1e-9)


def test_small_in_order_batches_fold_as_one_large_batch() -> None:
    seqs = [seq for seq in range(65000, 65000 + 1200) if seq % 37] + [66300, 66301]
    arrivals = [seq * 0.02 + (0.004 if seq % 5 == 0 else 0.0) for seq in seqs]
    small = ReceiveStatistics(min_sequential=0)
    large = ReceiveStatistics(min_sequential=0)
    for index, (seq, arrival) in enumerate(zip(seqs, arrivals, strict=True)):
        small.record(seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, arrival)
        large.record(seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, arrival)
        if index % 100 == 99:
            small.update()
    small.update()
    large.update()
    assert small.sequence is not None and large.sequence is not None
    assert small.sequence.extended_max == large.sequence.extended_max == 66301
    assert small.sequence.received == large.sequence.received == len(seqs)
    assert small.jitter == pytest.approx(large.jitter, rel=1e-9)
    received, expected, jitter = reference([seq & 0xFFFF for seq in seqs], arrivals, 0)
    assert (small.sequence.received, small.sequence.expected) == (received, expected)
    assert small.jitter == pytest.approx(jitter, rel=1e-9)


def test_a_timestamp_wrap_folds_alike_in_small_and_large_batches() -> None:
    small = ReceiveStatistics(min_sequential=0)
    large = ReceiveStatistics(min_sequential=0)
    start = (1 << 32) - 150 * 160  # the RTP timestamp wraps after 150 packets
    for index in range(600):
        timestamp = (start + index * 160) & 0xFFFFFFFF
        arrival = index * 0.02 + (0.003 if index % 4 == 0 else 0.0)
        small.record((1000 + index) & 0xFFFF, timestamp, arrival)
        large.record((1000 + index) & 0xFFFF, timestamp, arrival)
        if index % 50 == 49:
            small.update()
    small.update()
    large.update()
    assert small.jitter == pytest.approx(large.jitter, rel=1e-9)
    assert 0 < small.jitter < 30  # 3 ms of jitter on one packet in four, not a wrap's jump
