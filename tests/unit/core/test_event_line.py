"""An event's log line is exactly ``json.dumps(event.as_dict(), sort_keys=True)``."""

from __future__ import annotations

import enum
import importlib
import json
import math
import pkgutil
from dataclasses import dataclass

from hypothesis import example, given
from hypothesis import strategies as st

import switchboard
from switchboard.core.events import Event, event_line


class Leg(enum.IntEnum):
    CALLER = 1


class Mode(enum.StrEnum):
    DIRECT = "direct"


@dataclass(frozen=True, slots=True)
class Mixed(Event):
    """Every kind of value an event field holds; ``zz_last`` sorts after ``type``."""

    text: str
    number: int
    ratio: float
    flag: bool
    maybe: str | None
    other: object
    zz_last: str = ""


@dataclass(frozen=True, slots=True)
class Typed(Event):
    """A field named ``type`` replaces the kind in :meth:`Event.as_dict`."""

    type: str
    aor: str


values = st.one_of(
    st.text(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.sampled_from([Leg.CALLER, Mode.DIRECT]),
    st.tuples(st.integers(), st.text()),
)


mixed = st.builds(
    Mixed,
    st.text(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none() | st.text(),
    values,
    zz_last=st.text(),
)


@given(mixed)
@example(Mixed("", 0, -math.inf, False, None, math.nan))
@example(Mixed('\u00e9\n"', -(2**70), math.inf, True, "", Leg.CALLER))
def test_a_line_is_the_sorted_json_of_the_event(event: Mixed) -> None:
    assert event_line(event) == json.dumps(event.as_dict(), sort_keys=True)


@given(st.text(), st.text())
def test_a_field_named_type_wins_as_in_as_dict(kind: str, aor: str) -> None:
    event = Typed(kind, aor)
    assert event_line(event) == json.dumps(event.as_dict(), sort_keys=True)


def every_event_class() -> list[type[Event]]:
    for module in pkgutil.walk_packages(switchboard.__path__, "switchboard."):
        importlib.import_module(module.name)
    found: list[type[Event]] = []
    pending = list(Event.__subclasses__())
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return sorted(
        (kind for kind in found if kind.__module__.startswith("switchboard.")),
        key=lambda kind: (kind.__module__, kind.__qualname__),
    )


KINDS = every_event_class()


def test_the_pbx_events_were_all_found() -> None:
    names = {kind.__name__ for kind in KINDS}
    assert {"ContactAdded", "CallStarted", "CallEnded", "AuthFailed"} <= names
    assert len(KINDS) > 20


@given(st.sampled_from(KINDS).flatmap(st.from_type))
def test_every_event_of_the_pbx_gets_its_sorted_json_line(event: Event) -> None:
    assert event_line(event) == json.dumps(event.as_dict(), sort_keys=True)
