"""SDES key negotiation for SRTP (RFC 4568): the crypto suites we know, choosing one from an
offer, and the keys a completed exchange gives each direction.

Suites, with their master key and salt lengths in octets: AES_CM_128_HMAC_SHA1_80 and
_32 (RFC 4568 §6.2, 16 + 14), AES_256_CM_HMAC_SHA1_80 (RFC 6188, 32 + 14),
AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714 §12, 16 + 12 and 32 + 12).

An answerer takes the first ``a=crypto`` line of the offer that it can use (RFC 4568
§7.1.3: the offer lists them in preference order) and answers with one line: the
offer's tag, the same suite, its own key. Keys are the base64 of key||salt; padding may
be missing (some phones drop it). What we tolerate and what we skip:

- a key lifetime (``|2^31``) is read and ignored: libsrtp rekeys nothing, and a call never
  reaches 2^31 packets;
- an MKI (``|1:4``) on an AES-CM line is accepted: the peer's packets then carry that
  many octets between the encrypted part and the tag (RFC 3711 §3.1, §3.4), which the
  media layer takes out before authenticating (the MKI is not authenticated); our own lines
  never have one. An AEAD line with an MKI is skipped (not supported);
- a line with session parameters (``KDR=``, ``UNENCRYPTED_SRTP``, ...) is skipped, as
  RFC 4568 §7.1.3 asks for parameters the answerer does not support;
- a line whose key does not decode to the suite's length is skipped.

Nothing here makes keys: the caller supplies them (fresh entropy is I/O). Keys never
appear in a repr (the :class:`KeyParam` and :class:`SrtpParameters` fields say so), so a
logged object cannot leak them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field

from switchboard.sdp.model import Crypto, KeyParam

KEY_LENGTHS: dict[str, tuple[int, int]] = {
    "AEAD_AES_256_GCM": (32, 12),
    "AEAD_AES_128_GCM": (16, 12),
    "AES_256_CM_HMAC_SHA1_80": (32, 14),
    "AES_CM_128_HMAC_SHA1_80": (16, 14),
    "AES_CM_128_HMAC_SHA1_32": (16, 14),
}
"""Every suite we negotiate: (master key, master salt) octets. In this order we offer them:
authenticated encryption first, the 32-bit tag (weakest) last."""

SUITES = tuple(KEY_LENGTHS)
SRTP_PROTOS = ("RTP/SAVP", "RTP/SAVPF")
"""The SDES-SRTP profiles (RFC 3711 §14.2, RFC 5124)."""


def key_length(suite: str) -> int:
    """The octets of key||salt ``suite`` takes (0 for a suite we do not know)."""
    key, salt = KEY_LENGTHS.get(suite, (0, 0))
    return key + salt


def encode_key(key_salt: bytes) -> str:
    """The inline form of a master key and salt: base64 with its padding (RFC 4648 §4)."""
    return base64.b64encode(key_salt).decode("ascii")


def decode_key(text: str) -> bytes | None:
    """A base64 key||salt, padded or not; None when it is not base64."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def crypto_line(tag: int, suite: str, key_salt: bytes) -> Crypto:
    """Our ``a=crypto`` value: ``<tag> <suite> inline:<key||salt>``, no lifetime, no MKI."""
    return Crypto(tag, suite, (KeyParam("inline", encode_key(key_salt)),))


def offered_lines(keys: Iterable[tuple[str, bytes]]) -> tuple[Crypto, ...]:
    """Our offer's lines: one per (suite, key||salt), tagged 1, 2, ... in that order."""
    return tuple(crypto_line(tag, suite, key) for tag, (suite, key) in enumerate(keys, 1))


def mki_length(crypto: Crypto) -> int | None:
    """The MKI octets the line's packets carry (0 without one); None for an MKI we cannot
    take: malformed, longer than 128 octets (RFC 4568 §6.1), or on an AEAD suite."""
    mki = crypto.key_params[0].mki if crypto.key_params else None
    if mki is None:
        return 0
    value, _, length = mki.partition(":")
    if not (value.isascii() and value.isdigit() and length.isascii() and length.isdigit()):
        return None
    size = int(length)
    if not 1 <= size <= 128 or crypto.crypto_suite.startswith("AEAD_"):
        return None
    return size


def usable_key(crypto: Crypto) -> bytes | None:
    """The key||salt of a line we can use: a known suite, one inline key of the suite's
    length, an MKI we can take, no session parameters; None otherwise."""
    wanted = key_length(crypto.crypto_suite)
    if not wanted or crypto.session_params or len(crypto.key_params) != 1:
        return None
    param = crypto.key_params[0]
    if param.key_method != "inline" or mki_length(crypto) is None:
        return None
    key = decode_key(param.key_salt)
    return key if key is not None and len(key) == wanted else None


def choose(offered: Iterable[Crypto], ours: Iterable[Crypto]) -> Crypto | None:
    """Our answer line to ``offered``: its first usable line whose suite we have a key for,
    with the offer's tag and our key of that suite; None when there is none."""
    by_suite = {line.crypto_suite: line for line in ours}
    for line in offered:
        mine = by_suite.get(line.crypto_suite)
        if mine is not None and usable_key(line) is not None:
            return Crypto(line.tag, line.crypto_suite, mine.key_params)
    return None


@dataclass(frozen=True, init=False, slots=True)
class SrtpParameters:
    """What a completed SDES exchange set up for one stream: the suite, the key||salt we
    protect with and the one the peer protects with (secrets: never in a repr)."""

    suite: str
    local_key: bytes = field(repr=False)
    remote_key: bytes = field(repr=False)
    remote_mki: int = 0
    """The MKI octets in each packet the peer sends (its line's ``|value:length``)."""

    def __init__(
        self,
        suite: str,
        local_key: bytes,
        remote_key: bytes,
        remote_mki: int = 0,
    ) -> None:
        object.__setattr__(self, "suite", suite)
        object.__setattr__(self, "local_key", local_key)
        object.__setattr__(self, "remote_key", remote_key)
        object.__setattr__(self, "remote_mki", remote_mki)


def agreed_keys(
    offer: Iterable[Crypto], answer: Iterable[Crypto], local_is_offerer: bool
) -> SrtpParameters | None:
    """The parameters of an exchange: the answer's one line and the offer's line with its
    tag and suite; None when the answer carries none or they do not fit together."""
    answered = next(iter(answer), None)
    if answered is None:
        return None
    line = next((c for c in offer if c.tag == answered.tag), None)
    if line is None or line.crypto_suite != answered.crypto_suite:
        return None
    offer_key, answer_key = usable_key(line), usable_key(answered)
    if offer_key is None or answer_key is None:
        return None
    if local_is_offerer:
        return SrtpParameters(line.crypto_suite, offer_key, answer_key, mki_length(answered) or 0)
    return SrtpParameters(line.crypto_suite, answer_key, offer_key, mki_length(line) or 0)
