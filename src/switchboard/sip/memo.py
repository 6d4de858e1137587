"""Bounded memory of texts already found well-formed or already parsed, so that hot
checks and lookups skip repeats.

Phones send the same URIs and addresses in every request (To, Contact, Request-URI), so
validation remembers what passed and lookups what they found. Each memory is bounded:
when full it starts afresh, which costs a re-check of each text once, never memory.
"""

from __future__ import annotations

from typing import Generic, TypeVar

V = TypeVar("V")


class KnownGood:
    """A set of strings, cleared when it reaches ``limit`` entries."""

    __slots__ = ("_items", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: set[str] = set()

    def __contains__(self, text: str) -> bool:
        return text in self._items

    def __len__(self) -> int:
        return len(self._items)

    def add(self, text: str) -> None:
        if len(self._items) >= self.limit:
            self._items.clear()
        self._items.add(text)


class Remembered(Generic[V]):
    """A dict from text to what was computed from it, cleared when it reaches ``limit``
    entries (the same bound as :class:`KnownGood`)."""

    __slots__ = ("_items", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[str, V] = {}

    def get(self, text: str) -> V | None:
        return self._items.get(text)

    def __len__(self) -> int:
        return len(self._items)

    def put(self, text: str, value: V) -> V:
        """Remember ``value`` for ``text``; returns it."""
        if len(self._items) >= self.limit:
            self._items.clear()
        self._items[text] = value
        return value
