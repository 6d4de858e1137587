"""Findings about a configuration: where (file:line), how bad, what is wrong, and a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple


class Location(NamedTuple):
    """A place in a config file; every value read from a file carries one (line 0: the whole
    file, as for a file that is missing or too large)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line > 0 else self.file


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding, printed as ``file:line: severity: message (hint)``."""

    severity: Severity
    location: Location | None
    message: str
    hint: str | None = None

    def format(self) -> str:
        where = f"{self.location}: " if self.location is not None else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.severity.value}: {self.message}{hint}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file if self.location else None,
            "line": self.location.line if self.location else None,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


class Diagnostics:
    """An append-only list of findings, shared by every stage of a config load."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, location: Location | None, message: str, hint: str | None = None) -> None:
        self.items.append(Diagnostic(Severity.ERROR, location, message, hint))

    def warning(self, location: Location | None, message: str, hint: str | None = None) -> None:
        self.items.append(Diagnostic(Severity.WARNING, location, message, hint))

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        """Findings ordered by file and line, file-less ones first, stable otherwise."""
        return sorted(
            self.items,
            key=lambda d: (d.location.file, d.location.line) if d.location else ("", 0),
        )


def did_you_mean(word: str, candidates: Iterable[str], cutoff: float = 0.75) -> str | None:
    """A hint naming the closest candidate to a misspelt word, or None if nothing is close."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return f"did you mean '{lowered[word.lower()]}'?"
    close = difflib.get_close_matches(word, pool, n=1, cutoff=cutoff)
    if close:
        return f"did you mean '{close[0]}'?"
    if len(word) >= 3:
        letters = sorted(word.lower())
        for candidate in pool:
            if sorted(candidate[: len(word)].lower()) == letters:
                return f"did you mean '{candidate}'?"
    return None
