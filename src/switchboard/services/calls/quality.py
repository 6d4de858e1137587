"""Live RTP quality of the calls in progress: every few seconds, one ``CallQuality`` event
per anchored call, with what the relay received from each phone so far.

The web console's dashboard and any WebSocket listener see a call's audio degrade while it
lasts, not only in its CDR. One timer for the whole engine, ticking ``SLICES`` times per
interval; each tick reports its share of the calls (:class:`Rounds`), so that the reports
are spread over the interval: all at once, 500 anchored calls took 1,000 relay snapshots
in one go every 5 s, and every call's media waited behind them. Each report reads the
relay's counters (no per-packet work), and calls whose relay saw no RTP (direct media,
not yet answered) are skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from switchboard.core.events import EventBus
from switchboard.media.relay import LegStats
from switchboard.services.calls.channel import Channel
from switchboard.services.calls.events import CallQuality

QUALITY_INTERVAL = 5.0
"""Seconds between two reports of a call (RTCP's own reporting interval)."""

SLICES = 50
"""Ticks per interval, each reporting its share of the calls."""

NO_AUDIO = -1.0
"""The value of a leg's figures while its phone has sent nothing."""


def quality_of(channel: Channel) -> CallQuality | None:
    """The call's quality now, or None when its relay has received no RTP."""
    relay = channel.relay
    if relay is None or relay.closed:
        return None
    stats = relay.stats()
    caller, callee = stats["a"], stats["b"]
    if not caller.packets_received and not callee.packets_received:
        return None
    return CallQuality(
        channel.linkedid,
        channel.name,
        *_figures(caller),
        *_figures(callee),
    )


def _figures(leg: LegStats) -> tuple[float, float, float]:
    """MOS, loss (0..1) and jitter (ms) of one leg, rounded as people read them."""
    if not leg.packets_received:
        return NO_AUDIO, NO_AUDIO, NO_AUDIO
    return round(leg.mos, 2), round(leg.loss, 4), round(leg.jitter_ms, 2)


class Rounds:
    """Visits every key once per round of ``slices`` ticks, an even share at each tick.

    A round takes the keys there are when it starts; a key added meanwhile waits for the
    next round, and one removed is still handed out (the caller skips what is gone)."""

    __slots__ = ("_keys", "_ticks", "_visited", "slices")

    def __init__(self, slices: int) -> None:
        self.slices = slices
        self._keys: list[str] = []
        self._ticks = 0
        self._visited = 0

    def due(self, keys: Callable[[], list[str]]) -> list[str]:
        """The keys to visit at this tick; ``keys`` is read when a round starts."""
        if self._ticks == 0:
            self._keys = keys()
            self._visited = 0
        self._ticks += 1
        upto = -(-len(self._keys) * self._ticks // self.slices)  # the ceiling
        share = self._keys[self._visited : upto]
        self._visited = upto
        if self._ticks == self.slices:
            self._ticks = 0
            self._keys = []
        return share


class QualityReporter:
    """Publishes :class:`CallQuality` for every anchored call each :data:`QUALITY_INTERVAL`."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        bus: EventBus,
        loop: asyncio.AbstractEventLoop,
        interval: float = QUALITY_INTERVAL,
        slices: int = SLICES,
    ) -> None:
        self.channels = channels
        self.bus = bus
        self.loop = loop
        self.interval = interval
        self._rounds = Rounds(slices)
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Report every call every ``interval`` seconds from now on."""
        if self._timer is None:
            self._timer = self.loop.call_later(self.interval / self._rounds.slices, self._report)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _report(self) -> None:
        self._timer = self.loop.call_later(self.interval / self._rounds.slices, self._report)
        channels = self.channels
        for name in self._rounds.due(lambda: list(channels)):
            channel = channels.get(name)
            event = None if channel is None else quality_of(channel)
            if event is not None:
                self.bus.publish(event)
