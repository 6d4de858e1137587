"""Bounded memory of texts already found well-formed, so that hot checks skip repeats.

Phones send the same URIs and addresses in every request (To, Contact, Request-URI), so
validation remembers what passed. The set is bounded: when full it starts afresh, which
costs a re-check of each text once, never memory.
"""

from __future__ import annotations


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
