"""Live domain events: one bus subscription fans every event out to the /api/events
WebSockets and the webhooks, so publishing never waits for a client.

Each event is serialized at most once per publish, and only when some listener wants its
type. For WebSockets served by our uvicorn protocol (:mod:`switchboard.api.ws_protocol`)
publishing only notes the event; the flush, at once after a quiet spell, else
``FLUSH_INTERVAL`` after the previous one, serializes and frames each noted event once,
joins the frames once per group of listeners that asked for the same types, and writes
the same bytes to each of the group's transports in one call. No task wakes up per event,
nothing is encoded or framed per listener or on the publisher's path, and a listener costs
the PBX one socket write per flush.
(Through the ASGI send path ten listeners cost 161 us of CPU per event, 13 % of a call's;
a write per event and listener still cost 100 us.)
The transport's buffer is that listener's bounded queue: while it is over its limit the
listener loses events (counted). Webhooks (and WebSockets under another server) get a
bounded queue each, drained by their own task, with the same drop-and-count rule.
"""

from __future__ import annotations

import asyncio
import json
import json.encoder
from collections.abc import Callable, Iterable
from typing import Protocol

from switchboard.core.events import Event, EventBus

QUEUE_SIZE = 1000
"""Events a queued listener (a webhook) may fall behind by before it loses some."""

FLUSH_INTERVAL = 0.025
"""Seconds between two writes to a listener while events keep coming: the most latency
batching adds (a quarter of the 100 ms a CRM is promised), for at most 40 writes a second
per listener however busy the PBX is (bench/api_overhead.py)."""


def event_kinds() -> frozenset[str]:
    """The names of every event class loaded (what ``?types=`` and webhooks may name)."""
    found: set[str] = set()
    pending = list(Event.__subclasses__())
    while pending:
        kind = pending.pop()
        found.add(kind.__name__)
        pending += kind.__subclasses__()
    return frozenset(found)


class Feed:
    """One listener: the event types it wants (None: all) and its queue of (type, JSON)."""

    def __init__(self, kinds: frozenset[str] | None, size: int, role: str) -> None:
        self.kinds = kinds
        self.role = role
        """``websocket`` or ``webhook``, for the metrics."""
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(size)
        self.dropped = 0


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


class FrameSink(Protocol):
    """Where a WebSocket listener's frames are written (:class:`ws_protocol.Wire`)."""

    def ready(self) -> bool: ...

    def write(self, frame: bytes) -> None: ...


class WireFeed:
    """A WebSocket listener written whole frames (see :mod:`switchboard.api.ws_protocol`)."""

    def __init__(self, kinds: frozenset[str] | None, wire: FrameSink) -> None:
        self.kinds = kinds
        self.wire = wire
        self.role = "websocket"
        self.dropped = 0
        self.since = 0
        """Pending events published before it was attached (it skips them)."""


class WireGroup:
    """The WebSocket listeners that asked for the same event types: their frames are
    joined once per flush and the same bytes written to each (a server's frames are
    unmasked, so they are identical for every listener)."""

    def __init__(self, kinds: frozenset[str] | None) -> None:
        self.kinds = kinds
        self.feeds: tuple[WireFeed, ...] = ()


def _make_encoder() -> Callable[[dict[str, object]], str]:
    """``json.dumps`` for an event's flat dict, with the C encoder built once rather than
    per call (two thirds of ``json.dumps``' time on a small dict). ``c_make_encoder`` is
    the json module's internal: where it is missing, takes other arguments or writes
    something else than ``json.dumps`` for a sample, plain ``json.dumps`` is used."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.dumps
    try:
        encoder = make(
            None,
            json.JSONEncoder().default,
            json.encoder.encode_basestring_ascii,
            None,
            ": ",
            ", ",
            False,
            False,
            True,
        )
    except TypeError:
        return json.dumps

    def encode(data: dict[str, object]) -> str:
        return "".join(encoder(data, 0))

    sample: dict[str, object] = {"s": 'a"\u00e9\n', "i": -1, "f": 0.5, "b": True, "n": None}
    try:
        same = encode(sample) == json.dumps(sample)
    except TypeError:
        same = False
    return encode if same else json.dumps


_encode = _make_encoder()


def event_json(event: Event) -> str:
    """The event as the listeners get it: exactly ``json.dumps(event.as_dict())``."""
    return _encode(event.as_dict())


class EventFanout:
    """The one bus subscriber behind every live listener."""

    def __init__(self, bus: EventBus, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self.feeds: list[Feed | WireFeed] = []
        self.dropped = 0
        """Events lost by listeners that fell behind, since start-up."""
        self._queued: tuple[Feed, ...] = ()
        self._groups: tuple[WireGroup, ...] = ()
        self._wire_kinds: frozenset[str] | None = frozenset()
        """What some WebSocket wants: None for every type."""
        self._pending: list[tuple[Event, str | None]] = []
        """Events for the WebSockets since the last flush, with their JSON if a queued
        listener needed it already."""
        self.unsubscribe = bus.subscribe(self._on_event)
        self._flush_armed = False
        self._last_flush = 0.0

    def attach(self, kinds: Iterable[str] | None = None, role: str = "websocket") -> Feed:
        feed = Feed(frozenset(kinds) if kinds is not None else None, self.queue_size, role)
        self.feeds = [*self.feeds, feed]
        self._queued = (*self._queued, feed)
        return feed

    def attach_wire(self, wire: FrameSink, kinds: Iterable[str] | None = None) -> WireFeed:
        feed = WireFeed(frozenset(kinds) if kinds is not None else None, wire)
        feed.since = len(self._pending)
        group = next((g for g in self._groups if g.kinds == feed.kinds), None)
        if group is None:
            group = WireGroup(feed.kinds)
            self._groups = (*self._groups, group)
        group.feeds = (*group.feeds, feed)
        self.feeds = [*self.feeds, feed]
        self._wire_kinds_changed()
        return feed

    def detach(self, feed: Feed | WireFeed) -> None:
        self.feeds = [f for f in self.feeds if f is not feed]
        self._queued = tuple(f for f in self._queued if f is not feed)
        for group in self._groups:
            group.feeds = tuple(f for f in group.feeds if f is not feed)
        self._groups = tuple(g for g in self._groups if g.feeds)
        self._wire_kinds_changed()

    def _wire_kinds_changed(self) -> None:
        kinds: set[str] = set()
        for group in self._groups:
            if group.kinds is None:
                self._wire_kinds = None
                return
            kinds |= group.kinds
        self._wire_kinds = frozenset(kinds)

    def _on_event(self, event: Event) -> None:
        """Queue the event for whoever wants it; a WebSocket's is only noted here, and
        serialized and framed when the batch is flushed, off the publisher's path."""
        queued, wanted = self._queued, self._wire_kinds
        if not queued and wanted is not None and not wanted:
            return
        kind = event.kind
        text: str | None = None
        for feed in queued:
            if feed.kinds is not None and kind not in feed.kinds:
                continue
            if feed.queue.full():
                feed.dropped += 1
                self.dropped += 1
                continue
            if text is None:
                text = event_json(event)
            feed.queue.put_nowait((kind, text))
        if wanted is None or kind in wanted:
            self._pending.append((event, text))
            if not self._flush_armed:
                self._arm()

    def _arm(self) -> None:
        """Flush at the next loop iteration after a quiet spell, else ``FLUSH_INTERVAL``
        after the last flush: a lone event goes out at once, a busy PBX writes each
        listener at most once per interval."""
        self._flush_armed = True
        loop = asyncio.get_running_loop()
        delay = self._last_flush + FLUSH_INTERVAL - loop.time()
        if delay > 0:
            loop.call_later(delay, self.flush)
        else:
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Frame each pending event once, and write each group's frames, joined once, to
        each of its WebSockets; a backed-up listener loses what it was due (counted)."""
        self._flush_armed = False
        self._last_flush = asyncio.get_running_loop().time()
        pending, self._pending = self._pending, []
        if not pending:
            return
        frames = [
            text_frame((event_json(event) if text is None else text).encode())
            for event, text in pending
        ]
        for group in self._groups:
            kinds = group.kinds
            mine = [
                n for n, (event, _) in enumerate(pending) if kinds is None or event.kind in kinds
            ]
            if not mine:
                continue
            data = b"".join(frames) if kinds is None else b"".join(frames[n] for n in mine)
            for feed in group.feeds:
                since, feed.since = feed.since, 0
                due = len(mine) if not since else sum(n >= since for n in mine)
                if not due:
                    continue
                if not feed.wire.ready():
                    feed.dropped += due
                    self.dropped += due
                elif due == len(mine):
                    feed.wire.write(data)
                else:
                    feed.wire.write(b"".join(frames[n] for n in mine if n >= since))
