"""A reordering jitter buffer for consumers of one stream's audio (recorder, mixer, DTMF
detector): frames come out in timestamp order, a fixed number of frames behind the newest,
with gaps as None so the consumer can conceal or write silence.

It counts frames, not seconds, so it needs no clock: a frame is released once ``depth``
newer frames have arrived (at 20 ms frames, depth 3 absorbs 60 ms of reordering). A frame
older than the last released one is late and dropped (before the first release, an older
frame moves the start back instead); a timestamp jump of more than
``max_gap`` frames (the source restarted, or a long silence without packets) releases
everything held and starts over at the new timestamp.
"""

from __future__ import annotations

from switchboard.media.rtp import timestamp_delta


class JitterBuffer:
    """Reorders fixed-size frames of one RTP stream by timestamp."""

    __slots__ = (
        "_frames",
        "_next",
        "_started",
        "depth",
        "duplicates",
        "frame_samples",
        "late",
        "max_gap",
        "resyncs",
    )

    def __init__(self, frame_samples: int = 160, depth: int = 3, max_gap: int = 50) -> None:
        """``frame_samples``: timestamp units per frame (160 for 20 ms at 8 kHz)."""
        self.frame_samples = frame_samples
        self.depth = depth
        self.max_gap = max_gap
        self.late = 0
        self.duplicates = 0
        self.resyncs = 0
        self._frames: dict[int, bytes] = {}
        self._next: int | None = None  # timestamp of the next frame to release
        self._started = False  # a frame was released since the last (re)start

    def put(self, timestamp: int, payload: bytes) -> list[bytes | None]:
        """Add one frame; return the frames now due, oldest first (None: missing)."""
        out: list[bytes | None] = []
        if self._next is None:
            self._next = timestamp
        offset = timestamp_delta(timestamp, self._next)
        if offset < 0:
            if (
                self._started
                or -offset > self.max_gap * self.frame_samples
                or offset % self.frame_samples
            ):
                self.late += 1
                return out
            self._next = timestamp  # nothing released yet: start earlier
            offset = 0
        if offset // self.frame_samples > self.max_gap + self.depth:
            out = self.flush()
            self.resyncs += 1
            self._next = timestamp
            offset = 0
        if offset % self.frame_samples:
            # Not on the frame grid (the sender changed its timestamps): realign on it.
            out += self.flush()
            self.resyncs += 1
            self._next = timestamp
        key = timestamp & 0xFFFFFFFF
        if key in self._frames:
            self.duplicates += 1
            return out
        self._frames[key] = payload
        newest = max(timestamp_delta(held, self._next) for held in self._frames)
        while newest // self.frame_samples >= self.depth:
            out.append(self._release())
            newest -= self.frame_samples
        return out

    def flush(self) -> list[bytes | None]:
        """Release every held frame (gaps up to the newest as None) and forget the position."""
        out: list[bytes | None] = []
        while self._frames:
            out.append(self._release())
        self._next = None
        self._started = False
        return out

    def _release(self) -> bytes | None:
        assert self._next is not None
        self._started = True
        frame = self._frames.pop(self._next, None)
        self._next = (self._next + self.frame_samples) & 0xFFFFFFFF
        return frame
