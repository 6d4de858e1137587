"""The edge: sliding-window offences, growing bans, trust, rate limit, bounded memory."""

from __future__ import annotations

import ipaddress

from switchboard.config.switchboard import default_security
from switchboard.core.events import EventBus
from switchboard.services import security
from switchboard.services.authenticate import AuthFailed
from switchboard.services.security import Guard, SecurityOffence, SourceBanned, SourceUnbanned
from tests.unit.services.test_registrar import Recorder


def make(**settings: int) -> tuple[Guard, Recorder, list[float]]:
    config = default_security()
    for name, value in settings.items():
        setattr(config, name, value)
    bus = EventBus()
    clock = [1000.0]
    guard = Guard(config, bus, lambda: clock[0], (ipaddress.ip_network("10.0.0.0/8"),))
    return guard, Recorder(bus), clock


def test_threshold_within_the_window_bans_and_bans_grow():
    guard, recorder, _ = make(ban_threshold=3, ban_window=10, ban_time=60, ban_max=150)
    assert not guard.offence("192.0.2.9", "InvalidAccountID", "x", 0.0)
    assert not guard.offence("192.0.2.9", "InvalidAccountID", "x", 11.0)
    assert not guard.offence("192.0.2.9", "InvalidAccountID", "x", 12.0)
    assert guard.admits("192.0.2.9", 12.5)
    assert guard.offence("192.0.2.9", "InvalidAccountID", "x", 13.0), "3 within 10 s"
    assert not guard.admits("192.0.2.9", 14.0) and guard.admits("192.0.2.10", 14.0)
    assert guard.admits("192.0.2.9", 73.0)
    for t in (80.0, 81.0, 82.0):
        guard.offence("192.0.2.9", "ChallengeResponseFailed", "y", t)
    assert not guard.admits("192.0.2.9", 82 + 119) and guard.admits("192.0.2.9", 82 + 120)
    for t in (300.0, 301.0, 302.0):
        guard.offence("192.0.2.9", "ChallengeResponseFailed", "y", t)
    assert [e.seconds for e in recorder.of(SourceBanned)] == [60, 120, 150]
    assert len(recorder.of(SecurityOffence)) == 10


def test_trusted_sources_are_never_banned_and_admin_can_unban():
    guard, recorder, _ = make(ban_threshold=1)
    assert not guard.offence("10.1.2.3", "InvalidAccountID", "x", 0.0)
    assert guard.admits("10.1.2.3", 1.0)
    assert guard.offence("192.0.2.1", "InvalidAccountID", "x", 0.0)
    assert [b.source for b in guard.bans(1.0)] == ["192.0.2.1"]
    assert guard.unban("192.0.2.1") and not guard.unban("192.0.2.1")
    assert guard.admits("192.0.2.1", 1.0)
    assert recorder.of(SourceUnbanned)[0].source == "192.0.2.1"
    assert not guard.is_trusted("not-an-address")


def test_auth_failures_on_the_bus_are_offences():
    guard, recorder, clock = make(ban_threshold=2)
    for reason in ("unknown user", "wrong password"):
        guard.bus.publish(AuthFailed("udp:192.0.2.7:5060", "192.0.2.7", "x", "REGISTER", reason))
    assert [e.offence for e in recorder.of(SecurityOffence)] == [
        "InvalidAccountID",
        "ChallengeResponseFailed",
    ]
    assert not guard.admits("192.0.2.7", clock[0])
    guard.malformed("192.0.2.8", "bad Via", clock[0])
    assert recorder.of(SecurityOffence)[-1].offence == "RequestBadFormat"


def test_unauthenticated_rate_limit_refills_and_authenticated_sources_are_exempt():
    guard, _, _ = make(unauth_rate=5)
    assert sum(guard.allow_unauthenticated("192.0.2.3", 50.0) for _ in range(20)) == 5
    assert sum(guard.allow_unauthenticated("192.0.2.3", 50.5) for _ in range(20)) == 2
    assert sum(guard.allow_unauthenticated("192.0.2.3", 51.5) for _ in range(20)) == 5
    guard.authenticated("192.0.2.3")
    assert all(guard.allow_unauthenticated("192.0.2.3", 51.0) for _ in range(20))
    assert all(guard.allow_unauthenticated("10.0.0.1", 51.0) for _ in range(20))


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(security, "MAX_TRACKED", 100)
    guard, _, _ = make(ban_threshold=1)
    guard.offence("192.0.2.255", "InvalidAccountID", "x", 0.0)
    for i in range(300):
        guard.allow_unauthenticated(f"198.51.100.{i % 250}.{i}", 1.0)
    assert len(guard._sources) <= 101
    assert not guard.admits("192.0.2.255", 1.0), "a banned source is kept"
