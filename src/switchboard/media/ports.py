"""Media ports: sources and sinks of 20 ms frames of 8 kHz PCM, and the graph that moves
one frame from each source to its sinks per tick of a clock.

Everything the PBX itself says or hears goes through ports: a file player
(:class:`SamplesSource`), the tone generator (:class:`ToneSource`, the voicemail beep),
:class:`SilenceSource`, and on the phone's side the codec edge of :mod:`.rtpport` (an
:class:`~switchboard.media.rtpport.RtpSender` sink encodes into the leg's codec, an
:class:`~switchboard.media.rtpport.RtpReceiver` decodes what the phone sends, through a
jitter buffer, into sinks such as the recorder and the in-band DTMF detector). The graph
is pure: :meth:`MediaGraph.tick` is called by whoever keeps time (the asyncio
:class:`~switchboard.media.clock.MediaClock`, or a test), so no port reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

RATE = 8000
FRAME_SAMPLES = 160
"""Samples in one frame: 20 ms at 8 kHz."""
Frame = npt.NDArray[np.int16]


class Source(Protocol):
    """Gives one frame per tick."""

    @property
    def ended(self) -> bool:
        """Whether no frame follows the last one read."""

    def read(self) -> Frame:
        """The next :data:`FRAME_SAMPLES` samples."""


class Sink(Protocol):
    """Takes frames."""

    def write(self, frame: Frame) -> None:
        """Take one frame of PCM (20 ms from the graph; a receiver may give other lengths)."""


class SamplesSource:
    """Plays PCM held in memory (a sound file, a recorded message), the last frame padded
    with silence."""

    __slots__ = ("_position", "_samples")

    def __init__(self, samples: npt.NDArray[np.int16]) -> None:
        pcm = np.asarray(samples, dtype=np.int16)
        remainder = len(pcm) % FRAME_SAMPLES
        if remainder:
            pcm = np.concatenate((pcm, np.zeros(FRAME_SAMPLES - remainder, dtype=np.int16)))
        self._samples = pcm
        self._position = 0

    @property
    def ended(self) -> bool:
        """Whether every frame was read."""
        return self._position >= len(self._samples)

    @property
    def frames_left(self) -> int:
        """Frames not read yet."""
        return (len(self._samples) - self._position) // FRAME_SAMPLES

    def read(self) -> Frame:
        """The next frame (silence once the samples are used up)."""
        start = self._position
        if start >= len(self._samples):
            return np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self._position = start + FRAME_SAMPLES
        return self._samples[start : start + FRAME_SAMPLES]


class ToneSource:
    """A sine of ``frequency`` Hz for ``seconds`` (rounded up to whole frames), generated
    frame by frame with a continuous phase."""

    __slots__ = ("_frames", "_read", "_step", "amplitude", "frequency")

    def __init__(self, frequency: float, seconds: float, *, amplitude: float = 0.5) -> None:
        self.frequency = frequency
        self.amplitude = amplitude
        self._frames = max(1, -(-round(seconds * RATE) // FRAME_SAMPLES))
        self._read = 0
        self._step = 2.0 * np.pi * frequency / RATE

    @property
    def ended(self) -> bool:
        """Whether the tone's length was read."""
        return self._read >= self._frames

    def read(self) -> Frame:
        """The next 20 ms of the sine."""
        first = self._read * FRAME_SAMPLES
        self._read += 1
        phases = (np.arange(first, first + FRAME_SAMPLES, dtype=np.float64) * self._step) % (
            2.0 * np.pi
        )
        return np.round(self.amplitude * 32767.0 * np.sin(phases)).astype(np.int16)


class SilenceSource:
    """Silence for ``seconds`` (whole frames), or for ever when None (a disconnect ends it)."""

    __slots__ = ("_frames", "_read")

    _ZERO: Frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)

    def __init__(self, seconds: float | None = None) -> None:
        self._frames = None if seconds is None else max(1, round(seconds * RATE) // FRAME_SAMPLES)
        self._read = 0

    @property
    def ended(self) -> bool:
        """Whether the silence's length was read."""
        return self._frames is not None and self._read >= self._frames

    def read(self) -> Frame:
        """20 ms of zeros (one shared, read-only frame)."""
        self._read += 1
        return self._ZERO


SilenceSource._ZERO.setflags(write=False)


class Flow:
    """One source wired to its sinks in a graph."""

    __slots__ = ("error", "first_tick", "frames", "on_start", "sinks", "source")

    def __init__(
        self, source: Source, sinks: tuple[Sink, ...], on_start: Callable[[int], None] | None
    ) -> None:
        self.source = source
        self.sinks = sinks
        self.on_start = on_start
        """Called with the tick number before the first frame moves (an RTP sender places
        its timestamps by it)."""
        self.frames = 0
        """Frames moved so far."""
        self.first_tick: int | None = None
        """The tick that moved the first frame."""
        self.error: Exception | None = None
        """What a port of this flow raised, which ended it (a codec that failed, ...)."""


class MediaGraph:
    """Flows of frames from sources to sinks: one frame per flow per :meth:`tick`."""

    __slots__ = ("_flows",)

    def __init__(self) -> None:
        self._flows: list[Flow] = []

    def __len__(self) -> int:
        return len(self._flows)

    def connect(
        self, source: Source, *sinks: Sink, on_start: Callable[[int], None] | None = None
    ) -> Flow:
        """Wire ``source`` to ``sinks`` from the next tick on."""
        flow = Flow(source, sinks, on_start)
        self._flows.append(flow)
        return flow

    def disconnect(self, flow: Flow) -> None:
        """Stop ``flow`` now: its sinks get nothing more (no-op when already gone)."""
        if flow in self._flows:
            self._flows.remove(flow)

    def tick(self, number: int) -> list[Flow]:
        """Move one frame along every flow (tick ``number`` of the clock); the flows whose
        source ended, or whose port raised (kept in :attr:`Flow.error`), are disconnected
        and returned."""
        ended: list[Flow] = []
        for flow in tuple(self._flows):
            source = flow.source
            try:
                if not source.ended:
                    if flow.first_tick is None:
                        flow.first_tick = number
                        if flow.on_start is not None:
                            flow.on_start(number)
                    frame = source.read()
                    for sink in flow.sinks:
                        sink.write(frame)
                    flow.frames += 1
            except Exception as error:  # one broken flow must not stop the others
                flow.error = error
                ended.append(flow)
                continue
            if source.ended:
                ended.append(flow)
        for flow in ended:
            self._flows.remove(flow)
        return ended
