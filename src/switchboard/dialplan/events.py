"""What the dialplan reports while it runs: Asterisk's log lines, as past-tense events."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.diagnostics import Location


@dataclass(frozen=True, slots=True)
class WarningLogged:
    """A problem Asterisk would log as a WARNING or ERROR (bad expression, unknown app...)."""

    channel: str
    message: str
    location: Location | None


@dataclass(frozen=True, slots=True)
class VerboseLogged:
    """A line written by ``Verbose([level,]message)``."""

    channel: str
    level: int
    message: str
    location: Location | None


@dataclass(frozen=True, slots=True)
class MessageLogged:
    """A line written by ``Log(level,message)`` at an Asterisk log level (``NOTICE``...)."""

    channel: str
    level: str
    message: str
    location: Location | None


DialplanEvent = WarningLogged | VerboseLogged | MessageLogged
