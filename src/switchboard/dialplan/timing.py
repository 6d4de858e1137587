"""Time conditions (``GotoIfTime`` and timed ``include =>``), as ``main/pbx_timing.c``.

A condition is ``times,weekdays,mdays,months[,timezone]`` (``|`` also separates). Each field
is ``*`` (or empty) for all, or ``&``-joined items that are single values or cyclic
``start-end`` ranges, both ends included (``fri-mon``, ``22:00-06:00``). Weekdays and months
are names (``mon``, ``jan``) or numbers counted from 1 (weekday 1 is Sunday, as Asterisk
counts). Bad items are skipped with a warning, as Asterisk does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MINUTES_PER_DAY = 24 * 60
_TIME = re.compile(r"[ \t]*([+-]?\d{1,2}):[ \t]*([+-]?\d{1,2})")
_NUMBER = re.compile(r"[ \t]*([+-]?\d{1,2})")
_ALL_MINUTES = frozenset(range(_MINUTES_PER_DAY))

Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Timing:
    """The moments a condition accepts: minutes of the day, weekdays (0 = Sunday), days of
    the month (1-31), months (0 = January), and the zone they are read in (None: local)."""

    minutes: frozenset[int]
    weekdays: frozenset[int]
    mdays: frozenset[int]
    months: frozenset[int]
    timezone: str | None = None

    def matches(self, moment: datetime) -> bool:
        """True when ``moment`` (already in the right zone) satisfies every field."""
        return (
            moment.month - 1 in self.months
            and moment.day in self.mdays
            and (moment.weekday() + 1) % 7 in self.weekdays
            and moment.hour * 60 + moment.minute in self.minutes
        )


def _lookup(text: str, names: tuple[str, ...] | None, size: int) -> int:
    """Index of a name or of a number counted from 1; -1 if it is neither (``lookup_name``)."""
    if names and text[:1] > "9":
        lowered = text.lower()
        if lowered in names:
            return names.index(lowered)
    match = _NUMBER.match(text)
    if match is not None and 1 <= int(match.group(1)) <= size:
        return int(match.group(1)) - 1
    return -1


def _range(text: str, size: int, names: tuple[str, ...] | None, what: str, warn: Warn) -> set[int]:
    """The indexes a field selects (``get_range``)."""
    if not text or text == "*":
        return set(range(size))
    selected: set[int] = set()
    for part in text.split("&"):
        first, dash, last = part.partition("-")
        start = _lookup(first, names, size)
        if start < 0:
            warn(f"Invalid {what} '{first}', skipping element")
            continue
        end = start
        if dash:
            end = _lookup(last, names, size)
            if end < 0:
                warn(f"Invalid end {what} '{last}', skipping element")
                continue
        selected.add(end)
        while start != end:
            selected.add(start)
            start = (start + 1) % size
    return selected


def _minute(text: str) -> int | None:
    """Minute of the day of ``HH:MM``, or None if it is not a valid time."""
    match = _TIME.match(text)
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return hour * 60 + minute


def _times(text: str, warn: Warn) -> frozenset[int]:
    """The minutes of the day a time field selects (``get_timerange``)."""
    if not text or text == "*":
        return _ALL_MINUTES
    selected: set[int] = set()
    for part in text.split("&"):
        first, dash, last = part.partition("-")
        start = _minute(first)
        if not dash:
            if start is None:
                warn(f"{part} isn't a valid time.")
            else:
                selected.add(start)
            continue
        while last and not last[0].isdigit():
            last = last[1:]
        if not last:
            warn(f"Invalid time range starting with '{first}-'.")
            continue
        if start is None:
            warn(f"'{first}' isn't a valid start time.")
            continue
        end = _minute(last)
        if end is None:
            warn(f"'{last}' isn't a valid end time.")
            continue
        while start != end:
            selected.add(start)
            start = (start + 1) % _MINUTES_PER_DAY
        selected.add(end)
    return frozenset(selected)


def build_timing(text: str, warn: Warn) -> Timing | None:
    """Parse a condition (``ast_build_timing``); None when it is empty."""
    if not text:
        return None
    fields = re.split(r"[|,]", text, maxsplit=4)
    timezone = text.rsplit(",", 1)[1] if text.count(",") == 4 else None
    fields += [""] * (4 - len(fields))
    return Timing(
        _times(fields[0], warn),
        frozenset(_range(fields[1], 7, _DAYS, "day of week", warn)),
        frozenset(d + 1 for d in _range(fields[2], 31, None, "day", warn)),
        frozenset(_range(fields[3], 12, _MONTHS, "month", warn)),
        timezone,
    )


def check_timing(
    timing: Timing, epoch: float, local: tzinfo, zones: Callable[[str], tzinfo | None]
) -> bool:
    """True when the moment ``epoch`` satisfies ``timing`` in its zone (``ast_check_timing2``);
    an unknown zone name falls back to ``local``, as ``ast_localtime`` does."""
    zone = local
    if timing.timezone:
        zone = zones(timing.timezone) or local
    return timing.matches(datetime.fromtimestamp(epoch, zone))
