"""The location service: which contacts are registered to which AOR, until when.

Held in memory (the registrar's hot path never waits on disk) and written behind to a
:class:`ContactStore` in batches, so bindings survive a restart. Times are wall-clock
seconds, because they outlive the process.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from switchboard.core.contact import Contact
from switchboard.core.events import Event, EventBus


@dataclass(frozen=True, init=False, slots=True)
class ContactAdded(Event):
    aor: str
    uri: str
    endpoint: str
    expires: int
    source: str
    user_agent: str

    def __init__(  # noqa: PLR0917 (the positional signature dataclass gives)
        self,
        aor: str,
        uri: str,
        endpoint: str,
        expires: int,
        source: str,
        user_agent: str,
    ) -> None:
        object.__setattr__(self, "aor", aor)
        object.__setattr__(self, "uri", uri)
        object.__setattr__(self, "endpoint", endpoint)
        object.__setattr__(self, "expires", expires)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "user_agent", user_agent)


@dataclass(frozen=True, init=False, slots=True)
class ContactRefreshed(Event):
    aor: str
    uri: str
    endpoint: str
    expires: int

    def __init__(
        self,
        aor: str,
        uri: str,
        endpoint: str,
        expires: int,
    ) -> None:
        object.__setattr__(self, "aor", aor)
        object.__setattr__(self, "uri", uri)
        object.__setattr__(self, "endpoint", endpoint)
        object.__setattr__(self, "expires", expires)


@dataclass(frozen=True, init=False, slots=True)
class ContactRemoved(Event):
    aor: str
    uri: str
    endpoint: str
    reason: str

    def __init__(
        self,
        aor: str,
        uri: str,
        endpoint: str,
        reason: str,
    ) -> None:
        object.__setattr__(self, "aor", aor)
        object.__setattr__(self, "uri", uri)
        object.__setattr__(self, "endpoint", endpoint)
        object.__setattr__(self, "reason", reason)


@dataclass(frozen=True, init=False, slots=True)
class ContactExpired(Event):
    aor: str
    uri: str
    endpoint: str

    def __init__(
        self,
        aor: str,
        uri: str,
        endpoint: str,
    ) -> None:
        object.__setattr__(self, "aor", aor)
        object.__setattr__(self, "uri", uri)
        object.__setattr__(self, "endpoint", endpoint)


class ContactStore(Protocol):
    """Durable storage of contacts; the location service batches writes to it."""

    def load(self) -> list[Contact]: ...

    def save(self, upserts: Iterable[Contact], deletes: Iterable[tuple[str, str]]) -> None: ...


def _expires_at(contact: Contact) -> float:
    return contact.expires_at


def _source(contact: Contact) -> str:
    return f"{contact.transport}:{contact.source_host}:{contact.source_port}"


class LocationService:
    """Contacts by AOR, an expiry heap, and the batch of changes not yet stored."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._by_aor: dict[str, dict[str, Contact]] = {}
        self._expiry: list[tuple[float, str, str]] = []
        self._dirty: dict[tuple[str, str], Contact | None] = {}
        self._count = 0
        """How many contacts are held: kept up to date, since every expiry sweep (four a
        second) asks, and summing over 100,000 AORs each time cost milliseconds."""

    def __len__(self) -> int:
        return self._count

    def contacts(self, aor: str) -> list[Contact]:
        """The AOR's contacts, soonest to expire first."""
        contacts = self._by_aor.get(aor)
        if contacts is None:
            return []
        if len(contacts) == 1:
            return list(contacts.values())
        return sorted(contacts.values(), key=_expires_at)

    def all_contacts(self) -> list[Contact]:
        return [c for contacts in self._by_aor.values() for c in contacts.values()]

    def restore(self, contacts: Iterable[Contact], now: float) -> int:
        """Load stored contacts at start-up, dropping those that expired meanwhile (stream
        connections did not survive the restart: the next request opens a new one)."""
        count = 0
        for contact in contacts:
            if contact.expires_at <= now:
                self._dirty[(contact.aor, contact.uri)] = None
                continue
            self._put(replace(contact, connection=0))
            count += 1
        return count

    def add(self, contact: Contact, now: float) -> None:
        self._put(contact)
        self._dirty[(contact.aor, contact.uri)] = contact
        self.bus.publish(
            ContactAdded(
                contact.aor,
                contact.uri,
                contact.endpoint,
                contact.remaining(now),
                _source(contact),
                contact.user_agent,
            )
        )

    def refresh(self, contact: Contact, now: float) -> None:
        contacts = self._by_aor.get(contact.aor, {})
        previous = contacts.get(contact.uri)
        if previous is not None and contact.expires_at >= previous.expires_at:
            # The heap already holds an earlier entry for it: expire() reschedules it then.
            contacts[contact.uri] = contact
        else:
            self._put(contact)
        self._dirty[(contact.aor, contact.uri)] = contact
        self.bus.publish(
            ContactRefreshed(contact.aor, contact.uri, contact.endpoint, contact.remaining(now))
        )

    def remove(self, contact: Contact, reason: str) -> None:
        contacts = self._by_aor.get(contact.aor)
        if contacts is None or contacts.pop(contact.uri, None) is None:
            return
        self._count -= 1
        if not contacts:
            del self._by_aor[contact.aor]
        self._dirty[(contact.aor, contact.uri)] = None
        self.bus.publish(ContactRemoved(contact.aor, contact.uri, contact.endpoint, reason))

    def expire(self, now: float) -> int:
        """Remove every contact whose time is up.

        Every contact has a heap entry at or before its expiry; a refresh that extends
        the expiry pushes nothing (under constant re-registration the heap would otherwise
        grow by one entry per REGISTER), so an entry that comes up for a contact refreshed
        since is pushed again at the contact's new expiry. Entries of removed contacts
        are skipped.
        """
        removed = 0
        heap = self._expiry
        while heap and heap[0][0] <= now:
            _, aor, uri = heapq.heappop(heap)
            contact = self._by_aor.get(aor, {}).get(uri)
            if contact is None:
                continue
            if contact.expires_at > now:
                heapq.heappush(heap, (contact.expires_at, aor, uri))
                continue
            self._by_aor[aor].pop(uri)
            self._count -= 1
            if not self._by_aor[aor]:
                del self._by_aor[aor]
            self._dirty[(aor, uri)] = None
            self.bus.publish(ContactExpired(aor, uri, contact.endpoint))
            removed += 1
        if len(heap) > 4 * len(self) + 64:
            self._rebuild_heap()
        return removed

    def next_expiry(self) -> float | None:
        return self._expiry[0][0] if self._expiry else None

    def take_changes(self) -> tuple[list[Contact], list[tuple[str, str]]]:
        """The changes since the last call (last state per contact), for the store."""
        dirty, self._dirty = self._dirty, {}
        upserts = [c for c in dirty.values() if c is not None]
        deletes = [key for key, c in dirty.items() if c is None]
        return upserts, deletes

    def _put(self, contact: Contact) -> None:
        contacts = self._by_aor.setdefault(contact.aor, {})
        if contact.uri not in contacts:
            self._count += 1
        contacts[contact.uri] = contact
        heapq.heappush(self._expiry, (contact.expires_at, contact.aor, contact.uri))

    def _rebuild_heap(self) -> None:
        """Drop superseded heap entries so memory stays flat under constant re-registration."""
        self._expiry = [(c.expires_at, c.aor, c.uri) for c in self.all_contacts()]
        heapq.heapify(self._expiry)
