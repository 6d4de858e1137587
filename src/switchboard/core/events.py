"""The domain event bus: every decision the PBX makes is published here as a past-tense
frozen dataclass, so tests, the API, CDRs and metrics observe behaviour without logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields

from mypy_extensions import mypyc_attr

log = logging.getLogger(__name__)

PLAIN = (int, float, str, bool, type(None))
"""Field values JSON takes as they are; anything else goes out as its ``str``."""

_field_names: dict[type[Event], tuple[str, ...]] = {}
"""Each event class's field names, read once: ``fields()`` per event is most of the cost
of serializing one for the live listeners."""


@mypyc_attr(allow_interpreted_subclasses=True)
@dataclass(frozen=True, slots=True)
class Event:
    """Base of all domain events; ``kind`` is the class name, used by filters and the API."""

    @property
    def kind(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly fields, with the event kind."""
        kind = type(self)
        names = _field_names.get(kind)
        if names is None:
            names = _field_names[kind] = tuple(item.name for item in fields(self))
        data: dict[str, object] = {"type": kind.__name__}
        for name in names:
            value = getattr(self, name)
            data[name] = value if isinstance(value, PLAIN) else str(value)
        return data


Handler = Callable[[Event], None]


class EventBus:
    """Synchronous publish/subscribe. A failing handler is logged and never breaks the
    publisher: call handling must not depend on an observer's health."""

    def __init__(self) -> None:
        self._handlers: tuple[tuple[Handler, tuple[type[Event], ...] | None], ...] = ()
        """Replaced, never changed in place, so a publish needs no copy of it."""

    def subscribe(
        self, handler: Handler, kinds: tuple[type[Event], ...] | None = None
    ) -> Callable[[], None]:
        """Call ``handler`` for every event (or only those of ``kinds``); returns unsubscribe."""
        entry = (handler, kinds)
        self._handlers = (*self._handlers, entry)

        def unsubscribe() -> None:
            self._handlers = tuple(e for e in self._handlers if e is not entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for handler, kinds in self._handlers:
            if kinds is not None and not isinstance(event, kinds):
                continue
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, event.kind)
