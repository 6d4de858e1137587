"""Symmetric RTP latching and strictrtp source checking, per (mode, situation)."""

from __future__ import annotations

import pytest

from switchboard.media.latch import RtpLatch

SDP = ("192.0.2.10", 4000)
NAT = ("203.0.113.5", 61000)
ATTACKER = ("198.51.100.66", 5000)


def test_strict_accepts_the_sdp_address_while_learning_and_latches_it() -> None:
    latch = RtpLatch(SDP, "yes", probation=4)
    assert [latch.accept(SDP, seq) for seq in range(10, 14)] == [True] * 4
    assert not latch.learning
    assert latch.address == SDP
    assert not latch.accept(ATTACKER, 14)
    assert latch.accept(SDP, 14)
    assert latch.dropped == 1
    assert latch.last_seq == 14


def test_strict_latches_a_nated_phone_after_probation() -> None:
    latch = RtpLatch(SDP, "yes", probation=4)
    assert [latch.accept(NAT, seq) for seq in range(100, 104)] == [False, False, False, True]
    assert latch.address == NAT
    assert latch.accept(NAT, 104)
    assert not latch.accept(SDP, 105)


def test_strict_learning_restarts_on_a_gap_or_another_source() -> None:
    latch = RtpLatch(None, "yes", probation=3)
    assert not latch.accept(NAT, 1)
    assert not latch.accept(NAT, 3)  # gap: count restarts
    assert not latch.accept(ATTACKER, 4)  # another source: restarts
    assert not latch.accept(NAT, 4)
    assert not latch.accept(NAT, 5)
    assert latch.accept(NAT, 6)
    assert latch.address == NAT
    assert latch.dropped == 5


def test_learning_handles_sequence_wrap() -> None:
    latch = RtpLatch(None, "yes", probation=2)
    assert not latch.accept(NAT, 65535)
    assert latch.accept(NAT, 0)


def test_probation_one_latches_at_once() -> None:
    latch = RtpLatch(SDP, "yes", probation=1)
    assert latch.accept(NAT, 7)
    assert latch.address == NAT


def test_relearn_after_a_reinvite() -> None:
    latch = RtpLatch(SDP, "yes", probation=2)
    latch.accept(SDP, 1)
    latch.accept(SDP, 2)
    latch.relearn(NAT)
    assert latch.learning and latch.address == NAT
    assert latch.accept(NAT, 50)
    assert latch.accept(NAT, 51)
    assert not latch.learning


def test_seqno_follows_a_moving_phone_that_continues_the_stream() -> None:
    latch = RtpLatch(SDP, "seqno", probation=2)
    latch.accept(SDP, 1)
    latch.accept(SDP, 2)
    assert latch.accept(NAT, 3)
    assert latch.address == NAT
    assert not latch.accept(ATTACKER, 9)
    assert latch.address == NAT


def test_seqno_without_a_sequence_yet_drops() -> None:
    latch = RtpLatch(SDP, "seqno", probation=1)
    latch.learning = False  # learned from signalling only
    assert not latch.accept(NAT, 1)


def test_no_strictness_latches_every_new_source() -> None:
    latch = RtpLatch(SDP, "no")
    assert not latch.learning
    assert latch.accept(NAT, 1)
    assert latch.address == NAT
    assert latch.accept(NAT, 2)
    assert latch.accept(ATTACKER, 3)
    assert latch.address == ATTACKER
    assert latch.dropped == 0


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="strictrtp 'maybe'"):
        RtpLatch(SDP, "maybe")
