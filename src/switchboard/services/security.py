"""The edge: offences counted per source address over a sliding window, bans that grow
with each repeat, a rate limit for sources that never authenticated, and an allow-list
that is never banned. Built in, so no log-scraping fail2ban is needed.

Offences come from domain events (:class:`AuthFailed`) and from the stack (malformed
messages). The stack asks :meth:`Guard.admits` for every message: one dict lookup.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from switchboard.config.switchboard import SecurityConfig
from switchboard.core.events import Event, EventBus
from switchboard.services.authenticate import AuthFailed

MAX_TRACKED = 65536
"""Sources tracked at once; the least recently seen are forgotten first."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class SecurityOffence(Event):
    """One offence, named as Asterisk's security events are (InvalidAccountID, ...)."""

    source: str
    offence: str
    detail: str


@dataclass(frozen=True, slots=True)
class SourceBanned(Event):
    source: str
    seconds: int
    offences: int


@dataclass(frozen=True, slots=True)
class SourceUnbanned(Event):
    source: str
    reason: str


_ASTERISK_NAMES = {
    "unknown user": "InvalidAccountID",
    "wrong password": "ChallengeResponseFailed",
    "replayed nc": "ChallengeResponseFailed",
    "bad nonce": "ChallengeResponseFailed",
    "realm mismatch": "ChallengeResponseFailed",
}


@dataclass(slots=True)
class _Source:
    offences: deque[float] = field(default_factory=deque)
    banned_until: float = 0.0
    bans: int = 0
    tokens: float = 0.0
    refilled: float = 0.0
    authenticated: bool = False


@dataclass(frozen=True, slots=True)
class Ban:
    source: str
    until: float
    bans: int


class Guard:
    """Per-source offence counting, bans and the unauthenticated rate limit."""

    def __init__(
        self,
        settings: SecurityConfig,
        bus: EventBus,
        clock: Callable[[], float],
        trusted: tuple[Network, ...] = (),
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.clock = clock
        self.trusted = (*settings.trusted, *trusted)
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        self._trusted_cache: dict[str, bool] = {}
        bus.subscribe(self._on_event, (AuthFailed,))

    def reconfigure(self, settings: SecurityConfig, trusted: tuple[Network, ...] = ()) -> None:
        """Take reloaded thresholds and allow-list; offence counts and bans are kept."""
        self.settings = settings
        self.trusted = (*settings.trusted, *trusted)
        self._trusted_cache.clear()

    def is_trusted(self, host: str) -> bool:
        cached = self._trusted_cache.get(host)
        if cached is None:
            try:
                address = ipaddress.ip_address(host)
                cached = any(address in network for network in self.trusted)
            except ValueError:
                cached = False
            if len(self._trusted_cache) > MAX_TRACKED:
                self._trusted_cache.clear()
            self._trusted_cache[host] = cached
        return cached

    def admits(self, host: str, now: float) -> bool:
        """False while ``host`` is banned (its messages are dropped unanswered)."""
        source = self._sources.get(host)
        return source is None or source.banned_until <= now

    def allow_unauthenticated(self, host: str, now: float) -> bool:
        """Token bucket of ``unauth_rate`` per second for sources never authenticated."""
        sources = self._sources
        source = sources.get(host)
        if source is not None and source.authenticated:  # the usual case, without a call
            sources.move_to_end(host)
            return True
        source = self._source(host)
        if source.authenticated or self.is_trusted(host):
            return True
        rate = float(self.settings.unauth_rate)
        source.tokens = min(rate, source.tokens + (now - source.refilled) * rate)
        source.refilled = now
        if source.tokens >= 1.0:
            source.tokens -= 1.0
            return True
        return False

    def authenticated(self, host: str) -> None:
        """A source that proved a password is exempt from the unauthenticated rate limit."""
        source = self._sources.get(host)
        if source is not None and source.authenticated:
            self._sources.move_to_end(host)
            return
        self._source(host).authenticated = True

    def offence(self, host: str, kind: str, detail: str, now: float) -> bool:
        """Count one offence; True when it started a ban."""
        self.bus.publish(SecurityOffence(host, kind, detail))
        if self.is_trusted(host):
            return False
        source = self._source(host)
        window = source.offences
        window.append(now)
        while window and window[0] <= now - self.settings.ban_window:
            window.popleft()
        if len(window) < self.settings.ban_threshold or source.banned_until > now:
            return False
        seconds = min(self.settings.ban_time * 2**source.bans, self.settings.ban_max)
        source.bans += 1
        source.banned_until = now + seconds
        window.clear()
        self.bus.publish(SourceBanned(host, seconds, self.settings.ban_threshold))
        return True

    def malformed(self, host: str, detail: str, now: float) -> None:
        """The stack's report of a message it could not parse (Asterisk's RequestBadFormat)."""
        self.offence(host, "RequestBadFormat", detail, now)

    def unban(self, host: str) -> bool:
        source = self._sources.get(host)
        if source is None or source.banned_until == 0.0:
            return False
        source.banned_until = 0.0
        source.offences.clear()
        self.bus.publish(SourceUnbanned(host, "by an administrator"))
        return True

    def bans(self, now: float) -> list[Ban]:
        return [
            Ban(host, s.banned_until, s.bans)
            for host, s in self._sources.items()
            if s.banned_until > now
        ]

    def _source(self, host: str) -> _Source:
        source = self._sources.get(host)
        if source is None:
            source = self._sources[host] = _Source()
            if len(self._sources) > MAX_TRACKED:
                self._forget_one()
        else:
            self._sources.move_to_end(host)
        return source

    def _forget_one(self) -> None:
        """Drop the least recently seen source that is not banned."""
        for host, source in self._sources.items():
            if source.banned_until == 0.0:
                del self._sources[host]
                return
        self._sources.popitem(last=False)

    def _on_event(self, event: Event) -> None:
        assert isinstance(event, AuthFailed)
        kind = _ASTERISK_NAMES.get(event.reason, "ChallengeResponseFailed")
        detail = f"{event.method} as {event.username!r}: {event.reason}"
        self.offence(event.host, kind, detail, self.clock())
