"""Stateless, self-validating digest nonces and nonce-count (nc) replay tracking.

Theory of operation
-------------------
A nonce is ``base64url(issued_at:4 | salt:8 | mac:12)``: the issue time in whole seconds
(UNIX time, unsigned 32 bits), 8 bytes of entropy or a counter passed in by the caller, and
the 12-byte keyed BLAKE2s of ``version | issued_at | salt | realm | 0 | bind`` (BLAKE2's
keyed mode is a MAC; it replaced HMAC-SHA256, whose OpenSSL call cost 10-40 us in the
busy server, four times the rest of a nonce check).
Any process holding the secret can check a nonce without shared state (RFC 7616 §3.3
suggests exactly this shape: a time stamp plus a private-key hash), so challenges issued
by one worker are answered to another. ``bind`` optionally ties a nonce to request data
such as the source address, as Asterisk's ``build_nonce`` does with the source IP.

Because nonces are checked across processes and restarts, ``now`` here must be a clock that
every process shares (UNIX seconds), not the per-process monotonic clock used for timers.

RFC 7616's "Replay Attacks" advice is followed by :class:`NonceCountTracker`: the highest
nonce-count accepted per nonce, kept in a bounded LRU whose entries expire with the nonce.
A nonce that the tracker does not know (evicted, another process, a restart) is accepted
only with ``nc=00000001``; a higher count is answered as stale so the phone retries with a
fresh nonce without prompting its user.
"""

from __future__ import annotations

import hmac
import struct
from binascii import a2b_base64, b2a_base64
from collections import OrderedDict
from collections.abc import Sequence
from enum import Enum
from hashlib import blake2s, sha256

NONCE_LIFETIME = 32.0
"""Seconds a nonce stays fresh; Asterisk's ``nonce_lifetime`` default."""

MAX_TRACKED_NONCES = 131_072
"""Default LRU bound: 3,000 registrations/s x 32 s lifetime fits with room to spare."""

SALT_SIZE = 8
"""Bytes of caller-supplied entropy (or counter) in each nonce."""

MIN_SECRET_SIZE = 16
"""Shortest server secret accepted; shorter keys make the HMAC guessable."""

_VERSION = b"\x02"
_MAC_SIZE = 12
_RAW_SIZE = 4 + SALT_SIZE + _MAC_SIZE
_NONCE_LENGTH = _RAW_SIZE * 4 // 3
_MAX_ISSUED_AT = 2**32 - 1
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = str.maketrans("-_", "+/")
_pack_issued_at = struct.Struct(">I").pack
_unpack_issued_at = struct.Struct(">I").unpack_from


class NonceStatus(Enum):
    """What a nonce check found: ours and fresh, ours but expired, or not ours at all."""

    VALID = "valid"
    STALE = "stale"
    INVALID = "invalid"


class NcStatus(Enum):
    """What the nonce-count tracker decided for one (nonce, nc) pair."""

    ACCEPTED = "accepted"
    REPLAYED = "replayed"
    UNTRACKED = "untracked"


class NonceFactory:
    """Issues and checks HMAC-protected nonces with a configurable lifetime (pure)."""

    __slots__ = ("_keys", "lifetime", "max_skew")

    def __init__(
        self,
        secret: bytes,
        *,
        lifetime: float = NONCE_LIFETIME,
        previous_secrets: Sequence[bytes] = (),
        max_skew: float = 5.0,
    ) -> None:
        """Keep the signing secret first, then older secrets still accepted during rotation."""
        for key in (secret, *previous_secrets):
            if len(key) < MIN_SECRET_SIZE:
                raise ValueError(
                    f"expected a nonce secret of at least {MIN_SECRET_SIZE} bytes, found {len(key)}"
                )
        if lifetime <= 0:
            raise ValueError(f"expected a positive nonce lifetime, found {lifetime}")
        self._keys: tuple[bytes, ...] = tuple(_mac_key(key) for key in (secret, *previous_secrets))
        self.lifetime = lifetime
        self.max_skew = max_skew

    def issue(self, now: float, salt: bytes, realm: str, bind: bytes = b"") -> str:
        """Return a new nonce for ``realm`` issued at ``now`` (UNIX seconds)."""
        if len(salt) != SALT_SIZE:
            raise ValueError(f"expected {SALT_SIZE} salt bytes, found {len(salt)}")
        issued_at = int(now)
        if not 0 <= issued_at <= _MAX_ISSUED_AT:
            raise ValueError(f"expected UNIX seconds in 32 bits, found {now}")
        head = _pack_issued_at(issued_at) + salt
        message = b"".join((_VERSION, head, realm.encode(), b"\x00", bind))
        mac = blake2s(message, key=self._keys[0], digest_size=_MAC_SIZE).digest()
        return b2a_base64(head + mac, newline=False).translate(_TO_URLSAFE).decode("ascii")

    def check(self, nonce: str, now: float, realm: str, bind: bytes = b"") -> NonceStatus:
        """Say whether ``nonce`` was issued by us for ``realm``/``bind`` and is still fresh."""
        if len(nonce) != _NONCE_LENGTH or not nonce.isascii():
            return NonceStatus.INVALID
        try:
            raw = a2b_base64(nonce.translate(_FROM_URLSAFE))  # base64's own wrappers, inlined
        except ValueError:  # binascii.Error, or text that is not ASCII
            return NonceStatus.INVALID
        if len(raw) != _RAW_SIZE:
            return NonceStatus.INVALID
        head = raw[: 4 + SALT_SIZE]
        mac = raw[4 + SALT_SIZE :]
        message = b"".join((_VERSION, head, realm.encode(), b"\x00", bind))
        for key in self._keys:
            if hmac.compare_digest(mac, blake2s(message, key=key, digest_size=_MAC_SIZE).digest()):
                break
        else:
            return NonceStatus.INVALID
        age = now - _unpack_issued_at(raw)[0]
        if age < -self.max_skew:
            return NonceStatus.INVALID
        if age > self.lifetime:
            return NonceStatus.STALE
        return NonceStatus.VALID

    def make_opaque(self, realm: str) -> str:
        """Return a stable per-realm ``opaque`` that reveals nothing about the secret."""
        message = b"opaque\x00" + realm.encode()
        return blake2s(message, key=self._keys[0], digest_size=16).hexdigest()


def _mac_key(secret: bytes) -> bytes:
    """The BLAKE2s key for ``secret``: itself up to BLAKE2s's 32 bytes, else its SHA-256."""
    return secret if len(secret) <= blake2s.MAX_KEY_SIZE else sha256(secret).digest()


class NonceCountTracker:
    """Remembers the highest nc accepted per nonce, in a bounded LRU that expires entries."""

    __slots__ = ("_entries", "lifetime", "max_entries")

    def __init__(
        self, *, max_entries: int = MAX_TRACKED_NONCES, lifetime: float = NONCE_LIFETIME
    ) -> None:
        """Bound the table to ``max_entries``; keep an entry ``lifetime`` after its last use."""
        if max_entries < 1:
            raise ValueError(f"expected max_entries >= 1, found {max_entries}")
        self._entries: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self.max_entries = max_entries
        self.lifetime = lifetime

    def __len__(self) -> int:
        """Return how many nonces are tracked now."""
        return len(self._entries)

    def advance(self, nonce: str, nc: int, now: float) -> NcStatus:
        """Accept ``nc`` for ``nonce`` only if it is higher than any seen; record it if so."""
        entries = self._entries
        self._expire(now)
        entry = entries.get(nonce)
        if entry is None:
            if nc != 1:
                return NcStatus.UNTRACKED
            if len(entries) >= self.max_entries:
                entries.popitem(last=False)
        elif nc <= entry[0]:
            return NcStatus.REPLAYED
        else:
            entries.move_to_end(nonce)
        entries[nonce] = (nc, now + self.lifetime)
        return NcStatus.ACCEPTED

    def _expire(self, now: float) -> None:
        """Drop entries whose nonce can no longer be fresh (oldest first, amortised O(1))."""
        entries = self._entries
        while entries:
            nonce, (_, expires_at) = next(iter(entries.items()))
            if expires_at > now:
                return
            del entries[nonce]
