"""The location service's expiry: refreshed contacts live on, shortened ones go on time."""

from __future__ import annotations

from switchboard.core.contact import Contact
from switchboard.core.events import Event, EventBus
from switchboard.services.location import ContactExpired, LocationService


def service() -> tuple[LocationService, list[Event]]:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    return LocationService(bus), events


def contact(expires_at: float, uri: str = "sip:alice@192.0.2.1:5060") -> Contact:
    return Contact("alice", uri, expires_at, "alice")


def test_a_contact_expires_at_its_time_and_not_before():
    location, events = service()
    location.add(contact(100.0), now=0.0)
    assert location.expire(99.9) == 0
    assert location.expire(100.0) == 1
    assert location.contacts("alice") == []
    assert [type(e) for e in events][-1] is ContactExpired


def test_a_refreshed_contact_outlives_its_first_expiry():
    location, _ = service()
    location.add(contact(100.0), now=0.0)
    location.refresh(contact(250.0), now=90.0)
    assert location.expire(100.0) == 0
    assert location.expire(249.0) == 0
    assert [c.expires_at for c in location.contacts("alice")] == [250.0]
    assert location.expire(250.0) == 1


def test_a_refresh_that_shortens_the_expiry_is_honoured():
    location, _ = service()
    location.add(contact(3600.0), now=0.0)
    location.refresh(contact(60.0), now=0.0)
    assert location.expire(60.0) == 1
    assert len(location) == 0


def test_a_removed_contact_is_not_expired_again():
    location, events = service()
    location.add(contact(100.0), now=0.0)
    location.remove(contact(100.0), "unregistered")
    assert location.expire(100.0) == 0
    assert not any(isinstance(e, ContactExpired) for e in events)


def test_constant_re_registration_keeps_the_heap_small():
    location, _ = service()
    uris = [f"sip:alice@192.0.2.{i}:5060" for i in range(3)]
    for uri in uris:
        location.add(contact(100.0, uri), now=0.0)
    for step in range(1, 10_001):
        uri = uris[step % 3]
        location.refresh(contact(100.0 + step, uri), now=step / 100)
        location.expire(step / 100)
    assert len(location) == 3
    assert len(location._expiry) <= 3


def test_the_count_follows_every_way_in_and_out():
    location, _ = service()

    def held() -> int:
        return sum(len(location.contacts(aor)) for aor in ("alice", "bob"))

    a1, a2 = contact(100.0, "sip:alice@192.0.2.1"), contact(50.0, "sip:alice@192.0.2.2")
    bob = Contact("bob", "sip:bob@192.0.2.3", 10.0, "bob")
    assert location.restore([a1, bob, Contact("bob", "sip:bob@192.0.2.4", 1.0, "bob")], 5.0) == 2
    location.add(a2, now=5.0)
    location.add(a2, now=6.0)  # the same binding again: still one
    location.refresh(contact(200.0, "sip:alice@192.0.2.1"), now=7.0)
    assert len(location) == held() == 3
    location.expire(10.0)
    assert len(location) == held() == 2
    location.remove(a2, "unregistered")
    location.remove(a2, "unregistered")
    assert len(location) == held() == 1
    location.refresh(contact(20.0, "sip:alice@192.0.2.9"), now=11.0)  # not held: added
    assert len(location) == held() == 2
