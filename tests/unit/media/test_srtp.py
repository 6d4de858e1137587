"""SRTP contexts through libsrtp: every suite both ways, RTP and RTCP, tampering and replay
refused, AES-CM checked against RFC 3711 computed independently (with ``cryptography``),
a peer's MKI taken out, and fresh keys per leg."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.media.rtcp import RtcpReceiverReport, RtcpReportBlock, parse_compound
from switchboard.media.rtp import RtpPacket
from switchboard.media.srtp import SUPPORTED, SrtpContext, SrtpError, SrtpFailure, fresh_crypto
from switchboard.sdp.crypto import SUITES, SrtpParameters, key_length, usable_key

PACKET = RtpPacket(0, 4660, 160 * 7, 0xCAFE0001, bytes(range(160))).serialize()
REPORT = RtcpReceiverReport(0xCAFE0001, (RtcpReportBlock(0xBEEF, 1, 2, 3, 4, 5, 6),)).serialize()


def pair(suite: str, mki: int = 0) -> tuple[SrtpContext, SrtpContext]:
    """Our context and the phone's, each protecting with its own key."""
    ours, theirs = bytes([1]) * key_length(suite), bytes([2]) * key_length(suite)
    return (
        SrtpContext(SrtpParameters(suite, ours, theirs, mki)),
        SrtpContext(SrtpParameters(suite, theirs, ours)),
    )


def test_every_suite_we_negotiate_runs() -> None:
    assert SUPPORTED == SUITES


@pytest.mark.parametrize("suite", SUITES)
def test_rtp_and_rtcp_both_ways(suite: str) -> None:
    ours, phone = pair(suite)
    sent = ours.protect(PACKET)
    assert sent[:12] == PACKET[:12] and sent[12:172] != PACKET[12:]
    assert phone.unprotect(sent) == PACKET
    assert ours.unprotect(phone.protect(PACKET)) == PACKET
    report = ours.protect_rtcp(REPORT)
    assert phone.unprotect_rtcp(report) == REPORT
    assert parse_compound(ours.unprotect_rtcp(phone.protect_rtcp(REPORT)))


@pytest.mark.parametrize("suite", SUITES)
def test_tampered_replayed_and_foreign_packets_are_refused(suite: str) -> None:
    ours, phone = pair(suite)
    sent = bytearray(phone.protect(PACKET))
    sent[20] ^= 1
    with pytest.raises(SrtpFailure):
        ours.unprotect(bytes(sent))
    sent[20] ^= 1
    assert ours.unprotect(bytes(sent)) == PACKET
    with pytest.raises(SrtpFailure):
        ours.unprotect(bytes(sent))  # a replay
    with pytest.raises(SrtpFailure):
        ours.unprotect(ours.protect(PACKET))  # our own key is not the phone's


def _kdf(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 §4.3.1 with a key derivation rate of 0: AES-CM over (salt ^ label<<48)<<16."""
    x = int.from_bytes(master_salt, "big") ^ (label << 48)
    iv = (x << 16).to_bytes(16, "big")
    encryptor = Cipher(algorithms.AES(master_key), modes.CTR(iv)).encryptor()
    return encryptor.update(bytes(length))


def reference_srtp(packet: bytes, key_salt: bytes, tag_length: int) -> bytes:
    """RFC 3711 §4.1.1 (AES-CM) and §4.2.1 (HMAC-SHA1) for one packet, ROC 0."""
    master_key, master_salt = key_salt[:-14], key_salt[-14:]
    session_key = _kdf(master_key, master_salt, 0, len(master_key))
    auth_key = _kdf(master_key, master_salt, 1, 20)
    session_salt = _kdf(master_key, master_salt, 2, 14)
    sequence, _, ssrc = struct.unpack_from("!HII", packet, 2)
    iv = (int.from_bytes(session_salt, "big") << 16) ^ (ssrc << 64) ^ (sequence << 16)
    encryptor = Cipher(algorithms.AES(session_key), modes.CTR(iv.to_bytes(16, "big"))).encryptor()
    protected = packet[:12] + encryptor.update(packet[12:])
    tag = hmac.new(auth_key, protected + bytes(4), hashlib.sha1).digest()[:tag_length]
    return protected + tag


@pytest.mark.parametrize(
    ("suite", "tag_length"),
    [
        ("AES_CM_128_HMAC_SHA1_80", 10),
        ("AES_CM_128_HMAC_SHA1_32", 4),
        ("AES_256_CM_HMAC_SHA1_80", 10),
    ],
)
def test_aes_cm_matches_rfc_3711_computed_independently(suite: str, tag_length: int) -> None:
    """AES_256_CM_HMAC_SHA1_80 is set into libsrtp's policy by hand: this shows it is
    really AES-256 with the RFC 6188 key, not the 128-bit profile it started from."""
    key = bytes(range(7, 7 + key_length(suite)))
    ours = SrtpContext(SrtpParameters(suite, key, bytes(key_length(suite))))
    assert ours.protect(PACKET) == reference_srtp(PACKET, key, tag_length)


@pytest.mark.parametrize(
    ("suite", "tag"), [("AES_CM_128_HMAC_SHA1_80", 10), ("AES_CM_128_HMAC_SHA1_32", 4)]
)
def test_a_peers_mki_is_taken_out_before_authentication(suite: str, tag: int) -> None:
    ours, phone = pair(suite, mki=4)
    sent = phone.protect(PACKET)
    with_mki = sent[:-tag] + b"\x00\x00\x00\x01" + sent[-tag:]
    assert ours.unprotect(with_mki) == PACKET
    report = phone.protect_rtcp(REPORT)
    assert ours.unprotect_rtcp(report[:-10] + b"\x00\x00\x00\x01" + report[-10:]) == REPORT
    with pytest.raises(SrtpFailure):
        ours.unprotect(PACKET[:14])


def test_an_unknown_suite_or_a_short_key_is_an_error() -> None:
    with pytest.raises(SrtpError):
        SrtpContext(SrtpParameters("F8_128_HMAC_SHA1_80", bytes(30), bytes(30)))
    with pytest.raises(SrtpError):
        SrtpContext(SrtpParameters("AES_CM_128_HMAC_SHA1_80", bytes(29), bytes(30)))


def test_fresh_keys_for_every_suite_and_every_leg() -> None:
    first, second = fresh_crypto(), fresh_crypto()
    assert [line.crypto_suite for line in first] == list(SUPPORTED)
    keys = [usable_key(line) for line in first + second]
    assert all(key is not None for key in keys)
    assert len(set(keys)) == len(keys)


@settings(max_examples=300)
@given(st.binary(max_size=1600), st.sampled_from(SUITES), st.sampled_from([0, 4]))
def test_any_datagram_is_unprotected_or_refused_with_an_srtp_failure(
    data: bytes, suite: str, mki: int
) -> None:
    ours, _ = pair(suite, mki if "CM" in suite else 0)
    for unprotect in (ours.unprotect, ours.unprotect_rtcp):
        with contextlib.suppress(SrtpFailure):
            unprotect(data)
