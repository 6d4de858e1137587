"""Bounded memory of texts already found well-formed or already parsed, so that hot
checks and lookups skip repeats.

Phones send the same URIs and addresses in every request (To, Contact, Request-URI), so
validation remembers what passed and lookups what they found. Each memory is bounded:
when full it starts afresh, which costs a re-check of each text once, never memory.
"""

from __future__ import annotations

from typing import TypeVar

V = TypeVar("V")


class KnownGood(set[str]):
    """A set of strings, cleared when it reaches ``limit`` entries. A set itself, so that
    the hot ``in`` test is the set's own, not a Python method."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def add(self, text: str) -> None:
        if len(self) >= self.limit:
            self.clear()
        super().add(text)


class Remembered(dict[str, V]):
    """A dict from text to what was computed from it, cleared when it reaches ``limit``
    entries (the same bound as :class:`KnownGood`); lookups are the dict's own ``get``."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, text: str, value: V) -> V:
        """Remember ``value`` for ``text``; returns it."""
        if len(self) >= self.limit:
            self.clear()
        self[text] = value
        return value
