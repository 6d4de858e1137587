"""Session timers (RFC 4028): Session-Expires and Min-SE negotiation, refresh and expiry.

Theory of operation. The endpoint options ``timers``, ``timers_min_se`` and
``timers_sess_expires`` (Asterisk's names) form a :class:`SessionTimerConfig`. The UAC
offers an interval with :func:`request_headers`; the UAS answers with
:func:`uas_negotiate`, which either rejects (422 with Min-SE when the interval is too
brief, 421 when ``timers=required`` and the UAC lacks ``timer``) or returns the
Session-Expires to put in the 2xx and who refreshes. The UAC reads the 2xx with
:func:`uac_negotiate`, and after a 422 retries with :func:`interval_after_422`.

A running :class:`SessionTimer` has two deadlines: the refresher refreshes at half the
interval (§7.4: re-INVITE or UPDATE); the other side sends BYE when no refresh came by the
interval minus min(32 s, interval/3) (§10). The refresher itself gives up at the full
interval if its refresh never succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from switchboard.sip.errors import RemoteProtocolError
from switchboard.sip.headers import parse_number, parse_params
from switchboard.sip.message import SipMessage, SipRequest, SipResponse

MIN_SE = 90
"""The smallest Session-Expires anyone may ask for, seconds (RFC 4028 §4)."""
TIMER = "timer"
"""The option-tag of RFC 4028."""
TIMERS_MODES = ("no", "yes", "required", "always", "forced")
"""Asterisk's ``timers`` values: off; supported; required of the peer; used regardless."""


class Refresher(Enum):
    """Who refreshes, as the ``refresher`` parameter names it: the transaction's UAC or UAS."""

    UAC = "uac"
    UAS = "uas"


@dataclass(frozen=True, slots=True)
class SessionTimerConfig:
    """The endpoint's ``timers``, ``timers_min_se`` and ``timers_sess_expires`` options."""

    timers: str = "yes"
    timers_min_se: int = MIN_SE
    timers_sess_expires: int = 1800
    enabled: bool = field(init=False, repr=False, compare=False)
    """Whether session timers are supported at all (derived from ``timers``, made once)."""
    forced: bool = field(init=False, repr=False, compare=False)
    """Whether a session timer runs even when the peer does not support one."""

    def __post_init__(self) -> None:
        """Refuse values RFC 4028 forbids; derive :attr:`enabled` and :attr:`forced`."""
        if self.timers not in TIMERS_MODES:
            raise ValueError(f"Expected timers in {TIMERS_MODES}, found {self.timers!r}")
        if self.timers_min_se < MIN_SE:
            raise ValueError(f"Expected timers_min_se >= {MIN_SE}, found {self.timers_min_se}")
        if self.timers_sess_expires < self.timers_min_se:
            raise ValueError(
                f"Expected timers_sess_expires >= timers_min_se ({self.timers_min_se}),"
                f" found {self.timers_sess_expires}"
            )
        object.__setattr__(self, "enabled", self.timers != "no")
        object.__setattr__(self, "forced", self.timers in ("always", "forced"))


@dataclass(frozen=True, slots=True)
class SessionExpires:
    """``Session-Expires: delta-seconds [;refresher=uac|uas]`` (RFC 4028 §4)."""

    interval: int
    refresher: Refresher | None = None

    @classmethod
    def parse(cls, value: str) -> SessionExpires:
        """Parse a Session-Expires value; 400 when malformed."""
        number, semi, rest = value.partition(";")
        interval = parse_number(number.strip(), 2**32 - 1)
        params = parse_params(rest) if semi else {}
        refresher = params.get("refresher")
        if interval is None or interval == 0 or refresher not in (None, "uac", "uas"):
            raise RemoteProtocolError(400, f"Malformed Session-Expires: {value!r}")
        return cls(interval, None if refresher is None else Refresher(refresher))

    def __str__(self) -> str:
        if self.refresher is None:
            return str(self.interval)
        return f"{self.interval};refresher={self.refresher.value}"


@dataclass(frozen=True, slots=True)
class Negotiated:
    """A session timer agreed: interval, whether we refresh, and headers for our response."""

    interval: int
    local_refresher: bool
    headers: tuple[tuple[str, str], ...] = field(default=())


def _option_tags(message: SipMessage, name: str) -> set[str]:
    return {tag.lower() for tag in message.headers.get_all(name)}


def supports_timer(message: SipMessage) -> bool:
    """Whether ``message`` lists ``timer`` in Supported or Require."""
    return TIMER in _option_tags(message, "supported") | _option_tags(message, "require")


def session_expires(message: SipMessage) -> SessionExpires | None:
    """The Session-Expires of ``message``, None when absent; 400 when malformed."""
    value = message.headers.get("session-expires")
    if value is None:
        return None
    try:
        return SessionExpires.parse(value)
    except RemoteProtocolError as exc:
        raise message._error(exc.reason) from None


def min_se(message: SipMessage) -> int:
    """The Min-SE of ``message`` (90 when absent, RFC 4028 §5); 400 when malformed."""
    value = message.headers.get("min-se")
    if value is None:
        return MIN_SE
    number = parse_number(value.partition(";")[0].strip(), 2**32 - 1)
    if number is None:
        raise message._error(f"Malformed Min-SE: {value!r}")
    return max(number, MIN_SE)


def request_headers(
    config: SessionTimerConfig,
    interval: int | None = None,
    refresher: Refresher | None = None,
    minimum: int | None = None,
) -> list[tuple[str, str]]:
    """Supported, Require, Session-Expires and Min-SE for an INVITE or UPDATE we send."""
    if not config.enabled:
        return []
    headers = [("Supported", TIMER)]
    if config.timers == "required":
        headers.append(("Require", TIMER))
    expires = SessionExpires(
        config.timers_sess_expires if interval is None else interval, refresher
    )
    headers.append(("Session-Expires", str(expires)))
    headers.append(("Min-SE", str(config.timers_min_se if minimum is None else minimum)))
    return headers


def uas_negotiate(config: SessionTimerConfig, request: SipRequest) -> Negotiated | None:
    """What a UAS answers to an INVITE or UPDATE (RFC 4028 §9); None: no session timer.

    Raises 422 (with our Min-SE) for an interval shorter than ``timers_min_se``, and 421
    when ``timers=required`` and the UAC does not support ``timer``.
    """
    if not config.enabled:
        return None
    peer_supports = supports_timer(request)
    if config.timers == "required" and not peer_supports:
        raise RemoteProtocolError(421, "Extension Required", (("Require", TIMER),), request)
    requested = session_expires(request)
    floor = max(min_se(request), config.timers_min_se)
    if requested is None:
        if not (peer_supports or config.forced):
            return None
        interval = max(config.timers_sess_expires, floor)
        refresher = Refresher.UAC if peer_supports else Refresher.UAS
    else:
        if requested.interval < config.timers_min_se:
            raise RemoteProtocolError(
                422, "Session Interval Too Small", (("Min-SE", str(config.timers_min_se)),), request
            )
        # The UAS may shorten the interval, never below the request's Min-SE (§9).
        interval = max(min(requested.interval, config.timers_sess_expires), floor)
        if not peer_supports:
            refresher = Refresher.UAS
        elif requested.refresher is not None:
            refresher = requested.refresher
        else:
            refresher = Refresher.UAC
    headers: list[tuple[str, str]] = [("Session-Expires", str(SessionExpires(interval, refresher)))]
    if peer_supports:
        headers.append(("Require", TIMER))
    return Negotiated(interval, refresher is Refresher.UAS, tuple(headers))


def uac_negotiate(
    config: SessionTimerConfig, response: SipResponse, requested: int | None = None
) -> Negotiated | None:
    """The session timer a 2xx sets up for the UAC that sent the request (RFC 4028 §7.2).

    Without Session-Expires in the 2xx (or with a malformed one: the 2xx is not refused
    for it) there is none, unless ``timers`` is ``always`` or ``forced``: then we refresh
    ourselves at ``requested`` (or our configured) interval.
    """
    if not config.enabled:
        return None
    try:
        agreed = session_expires(response)
    except RemoteProtocolError:
        agreed = None
    if agreed is None:
        if not config.forced:
            return None
        return Negotiated(config.timers_sess_expires if requested is None else requested, True)
    return Negotiated(agreed.interval, agreed.refresher is not Refresher.UAS)


def interval_after_422(config: SessionTimerConfig, response: SipResponse, current: int) -> int:
    """The Session-Expires to retry with after a 422: at least its Min-SE (RFC 4028 §7.4)."""
    try:
        floor = min_se(response)
    except RemoteProtocolError:
        floor = MIN_SE
    return max(current, floor, config.timers_min_se)


class SessionTimer:
    """A running session timer: when to refresh, when the session expires (RFC 4028 §10)."""

    __slots__ = ("expires_at", "interval", "local_refresher", "refresh_at")

    def __init__(self) -> None:
        self.interval = 0
        self.local_refresher = False
        self.refresh_at: float | None = None
        self.expires_at: float | None = None

    @property
    def running(self) -> bool:
        """Whether a session timer is active."""
        return self.expires_at is not None

    def start(self, negotiated: Negotiated, now: float) -> None:
        """(Re)start after a successful INVITE or UPDATE carrying ``negotiated``."""
        interval = negotiated.interval
        self.interval = interval
        self.local_refresher = negotiated.local_refresher
        if negotiated.local_refresher:
            self.refresh_at = now + interval / 2
            self.expires_at = now + interval
        else:
            self.refresh_at = None
            self.expires_at = now + interval - min(32.0, interval / 3)

    def stop(self) -> None:
        """No session timer any more (a refresh answered without Session-Expires, or BYE)."""
        self.refresh_at = self.expires_at = None

    def refresh_sent(self) -> None:
        """A refresh is in flight: no further refresh until it is answered."""
        self.refresh_at = None

    def next_deadline(self) -> float | None:
        """The earlier of the refresh and expiry times, None when stopped."""
        if self.refresh_at is not None:
            return self.refresh_at
        return self.expires_at

    def refresh_due(self, now: float) -> bool:
        """Whether we should send a refresh now."""
        return self.refresh_at is not None and now >= self.refresh_at

    def expired(self, now: float) -> bool:
        """Whether the session has expired without a refresh."""
        return self.expires_at is not None and now >= self.expires_at
