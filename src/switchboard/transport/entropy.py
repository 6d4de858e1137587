"""Cryptographically random bytes for tags, branches and nonce salts, read from the OS in
batches: one ``getrandom`` call per few hundred values instead of one each (a call cost
7-16 us in the busy server, as much as building the response it was for)."""

from __future__ import annotations

import os

BATCH = 4096
"""Bytes read from the OS at a time."""


class RandomPool:
    """Hands out slices of an ``os.urandom`` buffer, refilled when used up; never reuses
    a byte."""

    __slots__ = ("_at", "_buffer", "size")

    def __init__(self, size: int = BATCH) -> None:
        self.size = size
        self._buffer = b""
        self._at = 0

    def take(self, count: int) -> bytes:
        """``count`` fresh random bytes."""
        at = self._at
        end = at + count
        if end > len(self._buffer):
            self._buffer = os.urandom(max(self.size, count))
            at, end = 0, count
        self._at = end
        return self._buffer[at:end]

    def hex(self, count: int) -> str:
        """``count`` fresh random bytes as ``2 * count`` lower-case hex digits."""
        return self.take(count).hex()


pool = RandomPool()
"""The process's pool (one event loop thread uses it)."""
