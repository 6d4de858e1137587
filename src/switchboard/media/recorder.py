"""A recording: a sink of the media graph (:mod:`.ports`) that keeps the 8 kHz PCM written
to it, up to ``max_seconds``.

What a phone sends reaches it through an :class:`~switchboard.media.rtpport.RtpReceiver`
(timestamp order, the leg's codec decoded, a lost packet written as silence of its length),
so the recording keeps its true duration whatever the codec.

Silence (voicemail.conf ``maxsilence``/``silencethreshold``) is judged as Asterisk's
``ast_dsp_silence`` judges it: a frame is silent when the average absolute value of its
samples is under the threshold. :meth:`Recorder.trailing_silence` keeps the length of the
silence at the end of the recording, measuring the frames written since its last call in
one ``np.add.reduceat``: nothing is added to :meth:`Recorder.write`, the per-frame path.
"""

from __future__ import annotations

import numpy as np

from switchboard.media.ports import RATE, Frame

DEFAULT_SILENCE_THRESHOLD = 128


class Recorder:
    """Collects frames of PCM; :meth:`samples` joins them once, at the end."""

    __slots__ = (
        "_chunks",
        "_length",
        "_scanned",
        "_silent",
        "full",
        "max_samples",
        "silence_threshold",
    )

    def __init__(
        self, *, max_seconds: float, silence_threshold: int = DEFAULT_SILENCE_THRESHOLD
    ) -> None:
        self.silence_threshold = silence_threshold
        self.max_samples = int(max_seconds * RATE)
        self._chunks: list[Frame] = []
        self._length = 0
        self.full = False
        """Whether a frame was refused for going past ``max_seconds``."""
        self._scanned = 0
        self._silent = 0

    def write(self, frame: Frame) -> None:
        """Keep one frame, unless it would take the recording past its limit."""
        if self.full:
            return
        if self._length + len(frame) > self.max_samples:
            self.full = True
            return
        if len(frame):
            self._chunks.append(frame)
            self._length += len(frame)

    @property
    def seconds(self) -> float:
        """How long the recording is so far."""
        return self._length / RATE

    def trailing_silence(self) -> float:
        """Seconds of continuous silence at the end of what arrived so far: frames whose
        average absolute sample is under ``silence_threshold`` (``ast_dsp_silence``)."""
        chunks = self._chunks
        if self._scanned < len(chunks):
            fresh = chunks[self._scanned :]
            self._scanned = len(chunks)
            if fresh:
                self._silent = self._count_silence(fresh)
        return self._silent / RATE

    def _count_silence(self, frames: list[Frame]) -> int:
        """The trailing silent samples once ``frames`` (non-empty) follow what was seen."""
        lengths = np.fromiter(map(len, frames), dtype=np.int64, count=len(frames))
        starts = np.zeros(len(frames), dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        magnitudes = np.abs(np.concatenate(frames).astype(np.int32))
        levels = np.add.reduceat(magnitudes, starts)
        # Asterisk: sum / len < threshold in integers, that is sum < threshold * len.
        loud = np.flatnonzero(levels >= self.silence_threshold * lengths)
        if len(loud) == 0:
            return self._silent + int(lengths.sum())
        return int(lengths[loud[-1] + 1 :].sum())

    def samples(self, trim_seconds: float = 0.0) -> Frame:
        """The recording as int16 PCM, ``trim_seconds`` cut from its end."""
        length = max(0, self._length - int(trim_seconds * RATE))
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks)[:length]
