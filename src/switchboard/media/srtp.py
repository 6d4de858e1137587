"""SRTP and SRTCP for one call leg (RFC 3711, RFC 6188, RFC 7714) through libsrtp
(``pylibsrtp``), and the fresh SDES keys each leg offers.

A :class:`SrtpContext` holds the two libsrtp sessions of a leg: one protecting what we
send with our key, one checking and decrypting what the phone sends with its key. Both
accept any SSRC, so the relayed phone's stream and a prompt the PBX plays share the
outbound one. libsrtp keeps the rollover counter and the replay window per SSRC.

AES_256_CM_HMAC_SHA1_80 has no libsrtp "profile" and pylibsrtp 1.0 exposes only
profiles, so its policy is written into libsrtp's ``srtp_crypto_policy_t`` (six 32-bit
fields: cipher type, cipher key length, auth type, auth key length, tag length, security
services; libsrtp 2's public ``srtp.h``), after checking that the profile it starts from
reads back as documented; when it does not, the suite is simply not offered.

Keys come from :func:`os.urandom`, per leg (:func:`fresh_crypto`): never reused between
calls or legs, never logged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pylibsrtp
from pylibsrtp import Policy, Session
from pylibsrtp._binding import ffi

from switchboard.media.errors import MediaError
from switchboard.sdp.crypto import SUITES, SrtpParameters, key_length, offered_lines
from switchboard.sdp.model import Crypto

_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    "AEAD_AES_128_GCM": Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    "AEAD_AES_256_GCM": Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}
_AES_128_CM_SHA1_80 = (1, 30, 3, 20, 10, 3)
"""``srtp_crypto_policy_t`` of the AES-128 CM / HMAC-SHA1-80 profile: SRTP_AES_ICM_128,
16 + 14 octets, SRTP_HMAC_SHA1, 20-octet auth key, 10-octet tag, confidentiality and
authentication."""
_AES_256_CM_SHA1_80 = (5, 46, 3, 20, 10, 3)
"""The same with SRTP_AES_ICM_256 and 32 + 14 octets (``srtp_crypto_policy_set_aes_cm_256_
hmac_sha1_80``)."""
_CM_TAGS = {
    "AES_CM_128_HMAC_SHA1_80": 10,
    "AES_CM_128_HMAC_SHA1_32": 4,
    "AES_256_CM_HMAC_SHA1_80": 10,
}
"""SRTP tag octets of the AES-CM suites (the AEAD ones carry theirs inside the ciphertext)."""
_SRTCP_CM_TAG = 10
"""SRTCP's tag is 80 bits for every AES-CM suite, _32 included (RFC 4568 §6.2.1)."""

SrtpFailure = (pylibsrtp.Error, ValueError)
"""What libsrtp raises for a packet that fails (authentication, replay, size)."""


class SrtpError(MediaError):
    """An SRTP suite or key we cannot set up."""


def _crypto_policy_fields(policy: Policy, which: str) -> list[int]:
    """The six int32 fields of the policy's ``rtp`` or ``rtcp`` crypto policy."""
    cell = ffi.addressof(getattr(policy._policy, which))
    return list(ffi.cast("int32_t *", cell)[0:6])


def _set_crypto_policy(policy: Policy, which: str, values: tuple[int, ...]) -> None:
    cell = ffi.cast("int32_t *", ffi.addressof(getattr(policy._policy, which)))
    for index, value in enumerate(values):
        cell[index] = value


def _aes_256_cm_available() -> bool:
    """Whether libsrtp's policy layout reads back as expected and AES-256 CM works."""
    try:
        probe = Policy(key=bytes(46), ssrc_type=Policy.SSRC_ANY_OUTBOUND)
        if _layout_known(probe) and all(
            _crypto_policy_fields(probe, which) == list(_AES_128_CM_SHA1_80)
            for which in ("rtp", "rtcp")
        ):
            for which in ("rtp", "rtcp"):
                _set_crypto_policy(probe, which, _AES_256_CM_SHA1_80)
            Session(probe).protect(bytes([0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]) + bytes(20))
            return True
    except (pylibsrtp.Error, ValueError, TypeError, AttributeError):
        pass
    return False


def _layout_known(policy: Policy) -> bool:
    """Whether ``srtp_crypto_policy_t`` has the six 32-bit fields libsrtp 2 documents."""
    return int(ffi.sizeof(policy._policy.rtp)) == 24


SUPPORTED = tuple(suite for suite in SUITES if suite in _PROFILES or _aes_256_cm_available())
"""The suites this libsrtp can run, in our offer order."""


def _policy(suite: str, key: bytes, ssrc_type: int) -> Policy:
    """A libsrtp policy for ``suite`` with master ``key`` (key||salt) for any SSRC."""
    if suite not in SUPPORTED or len(key) != key_length(suite):
        raise SrtpError(f"SRTP suite {suite} with a {len(key)}-octet key is not supported")
    if suite in _PROFILES:
        policy = Policy(key=key, ssrc_type=ssrc_type, srtp_profile=_PROFILES[suite])
    else:
        policy = Policy(key=key, ssrc_type=ssrc_type)
        for which in ("rtp", "rtcp"):
            _set_crypto_policy(policy, which, _AES_256_CM_SHA1_80)
    return policy


class SrtpContext:
    """Both directions of one leg's SRTP: ``protect*`` with our key, ``unprotect*`` with
    the phone's (raising one of :data:`SrtpFailure` for a packet that does not pass)."""

    __slots__ = ("_rtcp_cut", "_rtp_cut", "mki", "parameters", "receiver", "sender")

    def __init__(self, parameters: SrtpParameters) -> None:
        """Set up libsrtp for the negotiated suite and keys."""
        self.parameters = parameters
        self.sender = Session(
            _policy(parameters.suite, parameters.local_key, Policy.SSRC_ANY_OUTBOUND)
        )
        self.receiver = Session(
            _policy(parameters.suite, parameters.remote_key, Policy.SSRC_ANY_INBOUND)
        )
        self.mki = parameters.remote_mki
        self._rtp_cut = _CM_TAGS.get(parameters.suite, 0) + self.mki
        self._rtcp_cut = _SRTCP_CM_TAG + self.mki

    def protect(self, packet: bytes) -> bytes:
        """An RTP packet as SRTP, with our key."""
        return self.sender.protect(packet)

    def unprotect(self, packet: bytes) -> bytes:
        """The RTP packet inside the phone's SRTP packet (its MKI taken out first)."""
        if self.mki:
            packet = _without_mki(packet, self._rtp_cut, self.mki)
        return self.receiver.unprotect(packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        """An RTCP compound packet as SRTCP, with our key."""
        return self.sender.protect_rtcp(packet)

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        """The RTCP inside the phone's SRTCP packet (its MKI taken out first)."""
        if self.mki:
            packet = _without_mki(packet, self._rtcp_cut, self.mki)
        return self.receiver.unprotect_rtcp(packet)


def _without_mki(packet: bytes, cut: int, mki: int) -> bytes:
    """``packet`` without the ``mki`` octets that end ``cut`` octets before its end (the
    MKI sits before the authentication tag, RFC 3711 §3.1 and §3.4)."""
    if len(packet) < cut + 12:
        raise ValueError("packet shorter than its MKI and tag")
    start = len(packet) - cut
    return packet[:start] + packet[start + mki :]


def fresh_crypto(suites: Iterable[str] = SUPPORTED) -> tuple[Crypto, ...]:
    """Our ``a=crypto`` lines for one leg: a new random key||salt for every suite."""
    return offered_lines((suite, os.urandom(key_length(suite))) for suite in suites)
