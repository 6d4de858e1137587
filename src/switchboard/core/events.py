"""The domain event bus: every decision the PBX makes is published here as a past-tense
frozen dataclass, so tests, the API, CDRs and metrics observe behaviour without logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all domain events; ``kind`` is the class name, used by filters and the API."""

    @property
    def kind(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly fields, with the event kind."""
        data: dict[str, object] = {"type": self.kind}
        for item in fields(self):
            value = getattr(self, item.name)
            data[item.name] = (
                value if isinstance(value, int | float | str | bool | None) else str(value)
            )
        return data


Handler = Callable[[Event], None]


class EventBus:
    """Synchronous publish/subscribe. A failing handler is logged and never breaks the
    publisher: call handling must not depend on an observer's health."""

    def __init__(self) -> None:
        self._handlers: list[tuple[Handler, tuple[type[Event], ...] | None]] = []

    def subscribe(
        self, handler: Handler, kinds: tuple[type[Event], ...] | None = None
    ) -> Callable[[], None]:
        """Call ``handler`` for every event (or only those of ``kinds``); returns unsubscribe."""
        entry = (handler, kinds)
        self._handlers.append(entry)

        def unsubscribe() -> None:
            if entry in self._handlers:
                self._handlers.remove(entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for handler, kinds in tuple(self._handlers):
            if kinds is not None and not isinstance(event, kinds):
                continue
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, event.kind)
