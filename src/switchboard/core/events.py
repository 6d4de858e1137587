"""The domain event bus: every decision the PBX makes is published here as a past-tense
frozen dataclass, so tests, the API, CDRs and metrics observe behaviour without logs."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from json.encoder import encode_basestring_ascii

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


_line_plans: dict[type[Event], tuple[tuple[str, str], ...]] = {}
"""Each event class's keys in sorted order: (field name, the text before its value), or
("", the whole ``"type": ...`` pair) for the kind."""


def event_line(event: Event) -> str:
    """``json.dumps(event.as_dict(), sort_keys=True)``, built directly from a plan made
    once per class: the event log writes one per event, and the general encoder (a dict,
    then a sort and a type dispatch per value) was a third of that line's cost."""
    kind = type(event)
    plan = _line_plans.get(kind)
    if plan is None:
        plan = _line_plans[kind] = _line_plan(kind)
    parts: list[str] = []
    for name, before in plan:
        parts.append(before + _json_value(getattr(event, name)) if name else before)
    return "{" + ", ".join(parts) + "}"


def _line_plan(kind: type[Event]) -> tuple[tuple[str, str], ...]:
    """The keys of ``kind``'s dict, sorted; a field named ``type`` wins over the kind, as
    in :meth:`Event.as_dict`."""
    names = [item.name for item in fields(kind)]
    keys = sorted({"type", *names})
    return tuple(
        (name, encode_basestring_ascii(name) + ": ")
        if name in names
        else ("", '"type": ' + encode_basestring_ascii(kind.__name__))
        for name in keys
    )


def _json_value(value: object) -> str:
    """What ``json.dumps`` writes for a field value as :meth:`Event.as_dict` passes it
    (anything but a plain value as its ``str``)."""
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return repr(number)
    return encode_basestring_ascii(str(value))


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
