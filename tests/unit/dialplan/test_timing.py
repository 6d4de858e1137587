"""Time conditions as pbx_timing.c parses and checks them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from switchboard.dialplan.timing import Timing, build_timing, check_timing


def timing(text: str) -> tuple[Timing, list[str]]:
    warnings: list[str] = []
    built = build_timing(text, warnings.append)
    assert built is not None
    return built, warnings


def at(text: str, *moment: int) -> bool:
    return timing(text)[0].matches(datetime(*moment, tzinfo=UTC))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("condition", "moment", "expected"),
    [
        ("09:00-17:00,mon-fri,*,*", (2026, 11, 27, 9, 0), True),
        ("09:00-17:00,mon-fri,*,*", (2026, 11, 27, 17, 0), True),
        ("09:00-17:00,mon-fri,*,*", (2026, 11, 27, 17, 1), False),
        ("09:00-17:00,mon-fri,*,*", (2026, 11, 27, 8, 59), False),
        ("09:00-17:00,mon-fri,*,*", (2026, 11, 28, 12, 0), False),
        ("22:00-06:00,*,*,*", (2026, 11, 27, 23, 30), True),
        ("22:00-06:00,*,*,*", (2026, 11, 27, 6, 0), True),
        ("22:00-06:00,*,*,*", (2026, 11, 27, 12, 0), False),
        ("12:30,*,*,*", (2026, 11, 27, 12, 30), True),
        ("09:00- 10:00,*,*,*", (2026, 11, 27, 10, 0), True),
        ("12:30,*,*,*", (2026, 11, 27, 12, 31), False),
        ("9:00-9:05&18:00-18:05,*,*,*", (2026, 11, 27, 18, 3), True),
        ("*,fri-mon,*,*", (2026, 11, 29, 12, 0), True),
        ("*,fri-mon,*,*", (2026, 11, 25, 12, 0), False),
        ("*,SAT&sun,*,*", (2026, 11, 28, 0, 0), True),
        ("*,1,*,*", (2026, 11, 29, 0, 0), True),
        ("*,*,25-5,*", (2026, 12, 3, 0, 0), True),
        ("*,*,25-5,*", (2026, 12, 10, 0, 0), False),
        ("*,*,*,nov-feb", (2027, 1, 10, 0, 0), True),
        ("*,*,*,nov-feb", (2027, 3, 10, 0, 0), False),
        ("*,*,*,11", (2026, 11, 1, 0, 0), True),
        ("*|sat|28|nov", (2026, 11, 28, 0, 0), True),
        ("*", (2026, 11, 28, 0, 0), True),
        (",,,", (2026, 11, 28, 0, 0), True),
    ],
)
def test_conditions(condition: str, moment: tuple[int, ...], expected: bool) -> None:
    assert at(condition, *moment) is expected


@pytest.mark.parametrize(
    ("condition", "warning"),
    [
        ("25:00,*,*,*", "25:00 isn't a valid time."),
        ("09:00-,*,*,*", "Invalid time range starting with '09:00-'."),
        ("9x-10:00,*,*,*", "'9x' isn't a valid start time."),
        ("09:00-10:99,*,*,*", "'10:99' isn't a valid end time."),
        ("*,funday,*,*", "Invalid day of week 'funday', skipping element"),
        ("*,mon-funday,*,*", "Invalid end day of week 'funday', skipping element"),
        ("*,*,32,*", "Invalid day '32', skipping element"),
        ("*,*,*,0", "Invalid month '0', skipping element"),
    ],
)
def test_bad_items_are_skipped_with_a_warning(condition: str, warning: str) -> None:
    assert timing(condition)[1] == [warning]


def test_timezone_is_the_fifth_field_only() -> None:
    assert timing("*,*,*,*,Europe/Paris")[0].timezone == "Europe/Paris"
    assert timing("*,*,*,*")[0].timezone is None
    assert timing("*,*,*,*,Europe/Paris,x")[0].timezone is None
    assert build_timing("", print) is None


def test_check_timing_uses_the_zone_or_local() -> None:
    plus2 = timezone(timedelta(hours=2))
    built = timing("00:00-00:59,*,*,*,PLUS2")[0]
    epoch = datetime(2026, 11, 27, 22, 30, tzinfo=UTC).timestamp()
    assert check_timing(built, epoch, UTC, lambda n: plus2 if n == "PLUS2" else None)
    assert not check_timing(built, epoch, UTC, lambda n: None)
    assert check_timing(built, epoch, plus2, lambda n: None)
