"""Session timers (RFC 4028): header grammar, UAS and UAC negotiation, 422, deadlines."""

from __future__ import annotations

import pytest
from dialog_support import reply, request_text

from switchboard.sip.errors import RemoteProtocolError
from switchboard.sip.session_timer import (
    Negotiated,
    Refresher,
    SessionExpires,
    SessionTimer,
    SessionTimerConfig,
    interval_after_422,
    min_se,
    request_headers,
    session_expires,
    supports_timer,
    uac_negotiate,
    uas_negotiate,
)

YES = SessionTimerConfig("yes", 90, 1800)


def invite(*extra: str) -> object:
    return request_text(extra=extra)


def test_config_checks_values() -> None:
    with pytest.raises(ValueError, match="timers in"):
        SessionTimerConfig("maybe")
    with pytest.raises(ValueError, match="timers_min_se >= 90"):
        SessionTimerConfig("yes", 60)
    with pytest.raises(ValueError, match="timers_sess_expires"):
        SessionTimerConfig("yes", 600, 300)
    assert not SessionTimerConfig("no").enabled
    assert SessionTimerConfig("always").forced and SessionTimerConfig("forced").forced
    assert not YES.forced


def test_session_expires_grammar() -> None:
    assert SessionExpires.parse("1800") == SessionExpires(1800)
    assert SessionExpires.parse("90 ; refresher=uas") == SessionExpires(90, Refresher.UAS)
    assert str(SessionExpires(600, Refresher.UAC)) == "600;refresher=uac"
    assert str(SessionExpires(600)) == "600"
    for bad in ("", "0", "abc", "90;refresher=me", "-5"):
        with pytest.raises(RemoteProtocolError):
            SessionExpires.parse(bad)


def test_header_accessors() -> None:
    request = request_text(extra=["Session-Expires: 600;refresher=uac", "Min-SE: 120"])
    assert session_expires(request) == SessionExpires(600, Refresher.UAC)
    assert min_se(request) == 120
    plain = request_text()
    assert session_expires(plain) is None and min_se(plain) == 90
    assert min_se(request_text(extra=["Min-SE: 30"])) == 90
    with pytest.raises(RemoteProtocolError):
        session_expires(request_text(extra=["Session-Expires: soon"]))
    with pytest.raises(RemoteProtocolError):
        min_se(request_text(extra=["Min-SE: x"]))
    assert supports_timer(request_text(extra=["Supported: 100rel, Timer"]))
    assert supports_timer(request_text(extra=["Require: timer"]))
    assert not supports_timer(plain)


def test_request_headers() -> None:
    assert request_headers(SessionTimerConfig("no")) == []
    assert request_headers(YES) == [
        ("Supported", "timer"),
        ("Session-Expires", "1800"),
        ("Min-SE", "90"),
    ]
    assert request_headers(SessionTimerConfig("required"), 600, Refresher.UAC, 120) == [
        ("Supported", "timer"),
        ("Require", "timer"),
        ("Session-Expires", "600;refresher=uac"),
        ("Min-SE", "120"),
    ]


def test_uas_rejects_a_too_brief_interval_with_422() -> None:
    config = SessionTimerConfig("yes", 300, 1800)
    with pytest.raises(RemoteProtocolError) as info:
        uas_negotiate(config, request_text(extra=["Supported: timer", "Session-Expires: 200"]))
    assert info.value.status == 422
    assert info.value.headers == (("Min-SE", "300"),)


def test_uas_requires_timer_when_configured() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        uas_negotiate(SessionTimerConfig("required"), request_text())
    assert info.value.status == 421
    assert info.value.headers == (("Require", "timer"),)


def test_uas_negotiation() -> None:
    assert uas_negotiate(SessionTimerConfig("no"), request_text(extra=["Supported: timer"])) is None
    # No Session-Expires, no support: nothing unless forced.
    assert uas_negotiate(YES, request_text()) is None
    forced = uas_negotiate(SessionTimerConfig("always", 90, 600), request_text())
    assert forced == Negotiated(600, True, (("Session-Expires", "600;refresher=uas"),))
    # Supported but no Session-Expires: we insert ours, the UAC refreshes.
    inserted = uas_negotiate(YES, request_text(extra=["Supported: timer"]))
    assert inserted == Negotiated(
        1800, False, (("Session-Expires", "1800;refresher=uac"), ("Require", "timer"))
    )
    # A longer request is shortened to ours; never below the request's Min-SE.
    shortened = uas_negotiate(
        SessionTimerConfig("yes", 90, 600),
        request_text(extra=["Supported: timer", "Session-Expires: 3600", "Min-SE: 900"]),
    )
    assert shortened is not None and shortened.interval == 900
    # The UAC chose the refresher.
    chosen = uas_negotiate(
        YES, request_text(extra=["Supported: timer", "Session-Expires: 900;refresher=uas"])
    )
    assert chosen is not None and chosen.local_refresher and chosen.interval == 900
    default = uas_negotiate(YES, request_text(extra=["Supported: timer", "Session-Expires: 900"]))
    assert default is not None and not default.local_refresher
    # Session-Expires without Supported: timer (a proxy inserted it): we refresh.
    proxy = uas_negotiate(YES, request_text(extra=["Session-Expires: 900;refresher=uac"]))
    assert proxy == Negotiated(900, True, (("Session-Expires", "900;refresher=uas"),))


def test_uac_negotiation() -> None:
    request = request_text(extra=["Supported: timer", "Session-Expires: 1800"])
    assert uac_negotiate(SessionTimerConfig("no"), reply(request, 200)) is None
    assert uac_negotiate(YES, reply(request, 200)) is None
    assert uac_negotiate(SessionTimerConfig("forced", 90, 600), reply(request, 200)) == (
        Negotiated(600, True)
    )
    assert uac_negotiate(SessionTimerConfig("forced"), reply(request, 200), 900) == (
        Negotiated(900, True)
    )
    uac = reply(request, 200, extra=[("Session-Expires", "1200;refresher=uac")])
    assert uac_negotiate(YES, uac) == Negotiated(1200, True)
    uas = reply(request, 200, extra=[("Session-Expires", "1200;refresher=uas")])
    assert uac_negotiate(YES, uas) == Negotiated(1200, False)


def test_interval_after_422() -> None:
    request = request_text()
    assert interval_after_422(YES, reply(request, 422, extra=[("Min-SE", "1900")]), 1800) == 1900
    assert interval_after_422(YES, reply(request, 422), 1800) == 1800


def test_timer_deadlines_for_the_refresher() -> None:
    timer = SessionTimer()
    assert not timer.running and timer.next_deadline() is None
    timer.start(Negotiated(600, True), 100.0)
    assert timer.running
    assert timer.next_deadline() == 400.0
    assert not timer.refresh_due(399.9) and timer.refresh_due(400.0)
    timer.refresh_sent()
    assert timer.next_deadline() == 700.0
    assert not timer.refresh_due(500.0)
    assert not timer.expired(699.0) and timer.expired(700.0)
    timer.stop()
    assert not timer.expired(10_000.0)


def test_timer_deadline_for_the_other_side() -> None:
    timer = SessionTimer()
    timer.start(Negotiated(90, False), 0.0)
    assert timer.next_deadline() == 60.0  # 90 - min(32, 90/3)
    timer.start(Negotiated(1800, False), 0.0)
    assert timer.next_deadline() == 1768.0  # 1800 - 32
    assert not timer.refresh_due(1767.0)


def test_malformed_values_in_responses_are_ignored() -> None:
    request = request_text()
    assert uac_negotiate(YES, reply(request, 200, extra=[("Session-Expires", "soon")])) is None
    assert interval_after_422(YES, reply(request, 422, extra=[("Min-SE", "x")]), 1800) == 1800
