"""The clock of the media graph: one per event loop, ticking every 20 ms while any flow
is connected, so a hundred prompts playing at once cost one timer, not a hundred.

Tick ``n`` is due at ``start + n * 20 ms`` on the loop's clock and runs from a
``loop.call_at`` chain, so lateness never accumulates; after a stall of more than
:data:`MAX_LAG` the schedule restarts from now instead of bursting the backlog out. With
nothing connected the timer stops; a flow that comes while the clock is idle starts at
once, or on the tick after the last one when that is less than a tick away (prompts
played back to back stay one RTP stream), and tick numbers skip the idle time so an
:class:`~switchboard.media.rtpport.RtpSender` sees the pause.

:meth:`MediaClock.play` returns when the source has ended and its last frame was sent,
or raises what a port of its flow raised (the other flows go on); cancelling it
disconnects the flow at once: nothing is sent afterwards.
"""

from __future__ import annotations

import asyncio
import weakref

from switchboard.media.ports import Flow, MediaGraph, Sink, Source
from switchboard.media.rtpport import RtpSender

TICK = 0.020
"""Seconds per tick: one frame."""
MAX_LAG = 0.2
"""Seconds behind schedule after which the clock restarts from now instead of catching up."""
EARLY = 0.002
"""A tick due within this many seconds runs now: uvloop's timers have 1 ms resolution
and may fire just before the due time, which must not cost a second wake-up."""

_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaClock] = (
    weakref.WeakKeyDictionary()
)


class MediaClock:
    """Ticks one :class:`~switchboard.media.ports.MediaGraph` on an event loop."""

    def __init__(self) -> None:
        """Idle until the first :meth:`play`; it runs on the loop that plays (the clock
        keeps no reference to the loop, so a closed loop's clock goes with it)."""
        self.graph = MediaGraph()
        self.ticks = 0
        """The number of the next tick."""
        self._start: float | None = None
        self._handle: asyncio.Handle | None = None
        self._playing: dict[Flow, tuple[asyncio.Future[None], RtpSender]] = {}

    @classmethod
    def running(cls) -> MediaClock:
        """The running loop's clock (made on first use)."""
        loop = asyncio.get_running_loop()
        clock = _clocks.get(loop)
        if clock is None:
            clock = _clocks[loop] = cls()
        return clock

    async def play(self, source: Source, sender: RtpSender, *sinks: Sink) -> None:
        """Send ``source`` through ``sender`` (and to ``sinks``) until it ends."""
        if source.ended:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        flow = self.graph.connect(source, sender, *sinks, on_start=sender.begin)
        self._playing[flow] = (done, sender)
        try:
            self._wake()
            await done
        finally:
            if not done.done() or done.cancelled():  # cancelled while playing
                done.cancel()
                self.graph.disconnect(flow)
                sender.discard()
            self._playing.pop(flow, None)
            if not self.graph:
                self._sleep()

    def _wake(self) -> None:
        """Start ticking if idle: now, or on the tick after the last when that is near."""
        if self._handle is not None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._start is None:
            self._start = now - self.ticks * TICK
        due = self._start + self.ticks * TICK
        if now - due > TICK:
            self.ticks += round((now - due) / TICK)  # the idle time, in ticks
            self._start = now - self.ticks * TICK
            due = now
        if due > now + EARLY:
            self._handle = loop.call_at(due, self._tick)
        else:
            self._handle = loop.call_soon(self._tick)

    def _sleep(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        self._handle = None
        assert self._start is not None
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = int((now + EARLY - self._start) / TICK) + 1 - self.ticks
        if due * TICK > MAX_LAG:
            self._start = now - self.ticks * TICK  # a stall: restart the schedule
            due = 1
        for _ in range(max(1, due)):
            ended = self.graph.tick(self.ticks)
            self.ticks += 1
            for flow in ended:
                done, sender = self._playing[flow]
                if flow.error is None:
                    try:
                        sender.finish()
                    except Exception as error:  # as in the graph: the clock must go on
                        flow.error = error
                if done.done():
                    continue
                if flow.error is not None:
                    sender.discard()
                    done.set_exception(flow.error)
                else:
                    done.set_result(None)
            if not self.graph:
                return
        self._handle = loop.call_at(self._start + self.ticks * TICK, self._tick)
