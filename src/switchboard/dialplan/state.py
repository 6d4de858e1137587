"""What the dialplan sees of one channel: its position, caller ID, variables and clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

from switchboard.diagnostics import Location
from switchboard.dialplan.events import (
    DialplanEvent,
    MessageLogged,
    VerboseLogged,
    WarningLogged,
)
from switchboard.dialplan.functions import FUNCTIONS, FunctionRegistry


def _epoch_zero() -> float:
    """The default clock: the epoch itself, so nothing reads real time unless given a clock."""
    return 0.0


def utc_only(name: str) -> tzinfo | None:
    """The default zone lookup: UTC (and GMT) only, since reading tzdata would be file I/O."""
    return UTC if name.upper() in ("UTC", "GMT", "UCT", "ZULU") else None


@dataclass(slots=True, eq=False)
class ChannelState:
    """One channel's dialplan state; channel variables shadow ``[globals]``, no inheritance.
    ``clock`` gives epoch seconds; ``local_zone`` is the server's zone (STRFTIME, time
    conditions) and ``zones`` resolves zone names, both injected as reading tzdata is I/O."""

    channel: str = ""
    uniqueid: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 1
    hangupcause: int = 0
    caller_number: str | None = None
    caller_name: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = _epoch_zero
    zones: Callable[[str], tzinfo | None] = utc_only
    local_zone: tzinfo = UTC
    functions: FunctionRegistry = FUNCTIONS
    local_frames: list[dict[str, str | None]] = field(default_factory=list)
    location: Location | None = None
    events: list[DialplanEvent] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        """A channel variable, else a global, else None (``pbx_builtin_getvar_helper``)."""
        value = self.variables.get(name)
        if value is None:
            value = self.globals.get(name)
        return value

    def set(self, name: str, value: str | None) -> None:
        """Set (None: delete) a channel variable; ``_``/``__`` prefixes are dropped here, as
        there is no inheritance to mark (``pbx_builtin_setvar_helper``)."""
        if name.startswith("__"):
            name = name[2:]
        elif name.startswith("_"):
            name = name[1:]
        if value is None:
            self.variables.pop(name, None)
        else:
            self.variables[name] = value

    def set_global(self, name: str, value: str | None) -> None:
        """Set (None: delete) a global variable, seen by every channel sharing the dict."""
        if value is None:
            self.globals.pop(name, None)
        else:
            self.globals[name] = value

    def set_local(self, name: str, value: str) -> bool:
        """Set a variable local to the innermost Gosub, remembering the value it shadows;
        False outside any Gosub (``LOCAL()`` and the ``ARGn`` of a frame)."""
        if not self.local_frames:
            return False
        frame = self.local_frames[-1]
        if name not in frame:
            frame[name] = self.variables.get(name)
        self.variables[name] = value
        return True

    def warn(self, message: str) -> None:
        """Record a WARNING/ERROR line, tagged with the channel and the current step."""
        self.events.append(WarningLogged(self.channel, message, self.location))

    def verbose(self, level: int, message: str) -> None:
        """Record a ``Verbose`` line."""
        self.events.append(VerboseLogged(self.channel, level, message, self.location))

    def log(self, level: str, message: str) -> None:
        """Record a ``Log`` line."""
        self.events.append(MessageLogged(self.channel, level, message, self.location))
