"""Message-waiting indication: unsolicited NOTIFYs to registered phones, and message-summary
subscriptions through the request router (digest, dialog, refresh, unsubscribe, expiry).

The transport is the boundary: a fake ``send_request`` records what would go on the wire.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from switchboard.core.events import EventBus
from switchboard.services.authenticate import EndpointAuthenticator
from switchboard.services.location import LocationService
from switchboard.services.mwi import (
    MessageWaiting,
    MessageWaitingNotified,
    MwiSubscribed,
    MwiSubscriptionEnded,
    qualified_mailbox,
)
from switchboard.services.registrar import Registrar
from switchboard.services.requests import RequestRouter
from switchboard.sip.digest import DigestAlgorithm, compute_ha1, compute_response
from switchboard.sip.message import SipRequest, SipResponse, make_response, parse_message
from switchboard.sip.message_summary import MessageCounts, parse_message_summary
from switchboard.sip.peer import Peer
from switchboard.sip.transaction.events import (
    RequestReceived,
    ResponseReceived,
    TransactionTimedOut,
)
from tests.unit.services.test_registrar import NOW, SOURCE, Recorder, pjsip, register

LOCAL = ("192.0.2.1", 5060)
ALICE_MAILBOX = "[alice](+type=endpoint)\nmailboxes=101@default\n"


@dataclass
class Site:
    """The MWI service with its neighbours, a fake wire and a fake clock."""

    extra: str = ALICE_MAILBOX
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    now: float = 1000.0
    wire: list[tuple[str, SipRequest | SipResponse, Peer | None]] = field(default_factory=list)
    deferred: list[Callable[[], None]] = field(default_factory=list)
    keys: list[tuple[object, ...]] = field(default_factory=list)
    """Transaction keys of the requests sent, in order."""

    def __post_init__(self) -> None:
        salts = itertools.count()
        self.bus = EventBus()
        self.recorder = Recorder(self.bus)
        self.config = pjsip(self.extra)
        self.location = LocationService(self.bus)
        self.registrar = Registrar(self.config, self.location, self.bus)
        self.mwi = MessageWaiting(
            self.config,
            self.location,
            self.bus,
            self.send,
            lambda transport: LOCAL,
            counts=lambda box: self.counts.get(box, (0, 0)),
            defer=self.deferred.append,
            clock=lambda: self.now,
        )
        self.authenticator = EndpointAuthenticator(
            self.config, self.bus, b"k" * 32, lambda: next(salts).to_bytes(8, "big")
        )
        self.router = RequestRouter(
            self.authenticator, self.registrar, self.respond, clock=lambda: NOW
        )
        self.router.mwi = self.mwi

    def send(self, request: SipRequest, peer: Peer) -> tuple[object, ...]:
        self.wire.append(("request", request, peer))
        self.keys.append(("notify", len(self.keys)))
        return self.keys[-1]

    def respond(self, key: tuple[object, ...], response: SipResponse) -> None:
        self.wire.append(("response", response, None))

    def register(self, user: str = "alice", contact: str = "<sip:alice@192.0.2.10:5062>", **kw):
        endpoint = self.config.endpoints[user]
        request = register(user, contact=contact)
        self.registrar.register(request, endpoint, kw.get("source", SOURCE), NOW)
        for job in self.deferred:
            job()
        self.deferred.clear()

    def notifies(self) -> list[tuple[SipRequest, Peer]]:
        sent = [(m, p) for kind, m, p in self.wire if kind == "request"]
        self.wire.clear()
        return [(m, p) for m, p in sent if isinstance(m, SipRequest) and p is not None]

    def subscribe(
        self,
        *,
        uri: str = "sip:alice@pbx.example.com",
        expires: int | None = 3600,
        extra: str = "",
        authenticate: bool = True,
        cseq: int = 1,
        user: str = "alice",
        password: str = "alice101",
        source: Peer = SOURCE,
    ) -> list[SipResponse | SipRequest]:
        """A new SUBSCRIBE (challenged, then with digest); what went out for the last one."""
        request = subscribe_request(uri=uri, expires=expires, extra=extra, cseq=cseq, user=user)
        self.router(RequestReceived(("s", cseq), request, source))
        if authenticate:
            (challenge,) = self.out()
            assert isinstance(challenge, SipResponse) and challenge.status == 401
            digest = authorization(challenge, user, password, uri)
            request = subscribe_request(
                uri=uri,
                expires=expires,
                extra=f"{extra}Authorization: {digest}\r\n",
                cseq=cseq + 1,
                user=user,
            )
            self.router(RequestReceived(("s", cseq + 1), request, source))
        return self.out()

    def out(self) -> list[SipResponse | SipRequest]:
        messages = [m for _, m, _ in self.wire]
        self.wire.clear()
        return messages

    def in_dialog(
        self, ok: SipResponse, *, expires: int | None, cseq: int, source: Peer = SOURCE
    ) -> list[SipResponse | SipRequest]:
        """A SUBSCRIBE inside the dialog ``ok`` (our 200) created."""
        request = subscribe_request(
            expires=expires, cseq=cseq, to_tag=ok.to_tag, call_id=ok.call_id
        )
        self.router(RequestReceived(("r", cseq), request, source))
        return self.out()


def subscribe_request(
    *,
    uri: str = "sip:alice@pbx.example.com",
    expires: int | None = 3600,
    extra: str = "",
    cseq: int = 1,
    user: str = "alice",
    to_tag: str | None = None,
    call_id: str = "sub1",
    event: str | None = "message-summary",
) -> SipRequest:
    lines = [
        f"SUBSCRIBE {uri} SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK" + str(cseq),
        f"From: <sip:{user}@pbx.example.com>;tag=phone1",
        f"To: <{uri}>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} SUBSCRIBE",
        "Max-Forwards: 70",
        f"Contact: <sip:{user}@192.0.2.10:5062>",
    ]
    if event is not None:
        lines.append(f"Event: {event}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    text = "\r\n".join(lines) + "\r\n" + extra + "Content-Length: 0\r\n\r\n"
    message = parse_message(text.encode())
    assert isinstance(message, SipRequest)
    return message


def authorization(challenge: SipResponse, user: str, password: str, uri: str) -> str:
    value = (challenge.headers.get("www-authenticate") or "").removeprefix("Digest ")
    params = dict(part.strip().split("=", 1) for part in value.split(","))
    nonce, realm = params["nonce"].strip('"'), params["realm"].strip('"')
    ha1 = compute_ha1(DigestAlgorithm.MD5, user, realm, password)
    response = compute_response(
        DigestAlgorithm.MD5, ha1, nonce, "SUBSCRIBE", uri, qop="auth", nc="00000001", cnonce="c"
    )
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"'
    )


def summary_of(request: SipRequest):
    assert request.headers.get("content-type") == "application/simple-message-summary"
    return parse_message_summary(request.body)


def accepted(site: Site, **kw) -> tuple[SipResponse, SipRequest]:
    """Subscribe; the 200 and the first NOTIFY, in that order."""
    ok, notify = site.subscribe(**kw)
    assert isinstance(ok, SipResponse) and ok.status == 200, ok
    assert isinstance(notify, SipRequest) and notify.method == "NOTIFY"
    return ok, notify


# -- unsolicited ----------------------------------------------------------------------------


def test_qualified_mailbox_defaults_the_context():
    assert qualified_mailbox("101") == "101@default"
    assert qualified_mailbox(" 101@sales ") == "101@sales"


def test_registration_gets_the_current_state_after_the_register_is_answered():
    site = Site(counts={"101@default": (0, 4)})
    endpoint = site.config.endpoints["alice"]
    site.registrar.register(register(), endpoint, SOURCE, NOW)
    assert site.wire == [], "nothing before the REGISTER's 200 has gone out"
    assert len(site.deferred) == 1
    site.deferred.pop()()
    ((notify, peer),) = site.notifies()
    assert notify.method == "NOTIFY" and notify.uri_text == "sip:alice@192.0.2.10:5062"
    assert peer == Peer("udp", "192.0.2.10", 5062, None)
    headers = notify.headers
    assert headers.get("event") == "message-summary"
    assert headers.get("subscription-state") == "active"
    assert headers.get("allow-events") == "message-summary"
    assert notify.to_tag is None, "out of dialog, as Asterisk sends it"
    assert notify.from_tag and notify.cseq.method == "NOTIFY"
    assert (headers.get("via") or "").startswith("SIP/2.0/UDP 192.0.2.1:5060;rport")
    assert headers.get("contact") == "<sip:switchboard@192.0.2.1:5060>"
    summary = summary_of(notify)
    assert not summary.waiting
    assert summary.account == "sip:101@192.0.2.1:5060"
    assert summary.get("voice-message") == MessageCounts(0, 4)
    (event,) = site.recorder.of(MessageWaitingNotified)
    assert event == MessageWaitingNotified(
        "101@default", "alice", 0, 4, "sip:alice@192.0.2.10:5062", False
    )


def test_registration_without_mailboxes_sends_nothing():
    site = Site(extra="")
    site.register()
    assert site.notifies() == []
    site.mwi.mailbox_changed("101")
    assert site.notifies() == []


def test_mailbox_change_reaches_every_contact_of_the_endpoints_listing_it():
    site = Site(
        extra=ALICE_MAILBOX + "[alice](+type=aor)\nmax_contacts=2\n",
        counts={"101@default": (2, 1)},
    )
    site.register()
    site.register(contact="<sip:alice@192.0.2.11:5060>")
    site.notifies()
    site.mwi.mailbox_changed("101")
    sent = site.notifies()
    assert sorted(n.uri_text for n, _ in sent) == [
        "sip:alice@192.0.2.10:5062",
        "sip:alice@192.0.2.11:5060",
    ]
    for notify, _ in sent:
        summary = summary_of(notify)
        assert summary.waiting and summary.get("voice-message") == MessageCounts(2, 1)
    site.mwi.mailbox_changed("102@default")
    site.mwi.mailbox_changed("101@other")
    assert site.notifies() == [], "only endpoints listing the mailbox hear of it"


def test_aor_mailboxes_count_too_and_one_notify_sums_them():
    extra = (
        "[alice](+type=endpoint)\nmailboxes=101\n"
        "[alice](+type=aor)\nmailboxes=102@default,101@default\n"
    )
    site = Site(extra=extra, counts={"101@default": (1, 0), "102@default": (2, 5)})
    site.register()
    ((notify, _),) = site.notifies()
    summary = summary_of(notify)
    assert summary.get("voice-message") == MessageCounts(3, 5)
    assert summary.account is None, "several mailboxes and no voicemail_extension"
    site.mwi.mailbox_changed("102")
    ((notify, _),) = site.notifies()
    assert site.recorder.of(MessageWaitingNotified)[-1].mailbox == "101@default,102@default"


def test_voicemail_extension_is_the_message_account():
    site = Site(extra=ALICE_MAILBOX + "voicemail_extension=*97\n")
    site.register()
    ((notify, _),) = site.notifies()
    assert summary_of(notify).account == "sip:*97@192.0.2.1:5060"


def test_an_aor_shared_by_two_endpoints_is_notified_once():
    extra = ALICE_MAILBOX + "[carol](endpoint_internal)\naors=alice\nmailboxes=101\n"
    site = Site(extra=extra)
    site.register()
    site.notifies()
    site.mwi.mailbox_changed("101")
    assert len(site.notifies()) == 1


def test_no_listening_transport_means_no_notify():
    site = Site()
    site.mwi.local = lambda transport: None
    site.register()
    assert site.notifies() == []


def test_unspecified_bind_address_is_replaced_by_the_route_towards_the_phone():
    site = Site()
    site.mwi.local = lambda transport: ("0.0.0.0", 5070)
    site.register(contact="<sip:alice@127.0.0.1:5062>", source=Peer("udp", "127.0.0.1", 5062))
    ((notify, _),) = site.notifies()
    assert (notify.headers.get("via") or "").startswith("SIP/2.0/UDP 127.0.0.1:5070")


def test_start_up_notifies_contacts_restored_from_the_store():
    site = Site(counts={"101@default": (1, 0)})
    site.register()
    site.notifies()
    site.mwi.notify_all()
    ((notify, _),) = site.notifies()
    assert summary_of(notify).waiting


def test_without_defer_the_notify_goes_at_once():
    site = Site()
    site.mwi.defer = None
    site.registrar.register(register(), site.config.endpoints["alice"], SOURCE, NOW)
    assert len(site.notifies()) == 1


# -- subscriptions --------------------------------------------------------------------------


def test_subscribe_is_challenged_then_accepted_and_notified_in_the_new_dialog():
    site = Site(counts={"101@default": (1, 2)})
    ok, notify = accepted(site)
    assert ok.headers.get("expires") == "3600"
    assert ok.headers.get("server") == "Switchboard"
    local_tag = ok.to_tag
    assert local_tag
    assert ok.headers.get("contact") == "<sip:switchboard@192.0.2.1:5060>"
    assert notify.uri_text == "sip:alice@192.0.2.10:5062", "the subscriber's Contact"
    assert notify.call_id == "sub1"
    assert notify.from_tag == local_tag and notify.to_tag == "phone1"
    assert notify.cseq == (1, "NOTIFY")
    assert notify.headers.get("subscription-state") == "active;expires=3600"
    assert notify.headers.get("event") == "message-summary"
    summary = summary_of(notify)
    assert summary.waiting and summary.get("voice-message") == MessageCounts(1, 2)
    (subscribed,) = site.recorder.of(MwiSubscribed)
    assert (subscribed.endpoint, subscribed.mailbox, subscribed.expires) == (
        "alice",
        "101@default",
        3600,
    )


def test_changes_go_in_dialog_and_replace_unsolicited_notifies_to_the_same_phone():
    site = Site(extra=ALICE_MAILBOX + "[alice](+type=aor)\nmax_contacts=2\n")
    site.register()
    site.register(contact="<sip:alice@192.0.2.11:5060>", source=Peer("udp", "192.0.2.11", 5060))
    site.notifies()
    accepted(site)
    site.now += 100
    site.counts["101@default"] = (1, 0)
    site.mwi.mailbox_changed("101")
    sent = site.notifies()
    in_dialog = [n for n, _ in sent if n.to_tag is not None]
    unsolicited = [n for n, _ in sent if n.to_tag is None]
    assert [n.headers.get("subscription-state") for n in in_dialog] == ["active;expires=3500"]
    assert in_dialog[0].cseq.seq == 2
    assert [n.uri_text for n in unsolicited] == ["sip:alice@192.0.2.11:5060"], (
        "the subscribed phone gets no second, unsolicited NOTIFY; the other phone does"
    )


def test_refresh_then_unsubscribe():
    site = Site()
    ok, _ = accepted(site)
    out = site.in_dialog(ok, expires=600, cseq=3)
    refreshed, notify = out
    assert isinstance(refreshed, SipResponse) and refreshed.status == 200
    assert refreshed.headers.get("expires") == "600" and refreshed.to_tag == ok.to_tag
    assert isinstance(notify, SipRequest)
    assert notify.headers.get("subscription-state") == "active;expires=600"
    site.now += 500
    site.mwi.tick()
    assert len(site.mwi.subscriptions) == 1, "refreshed: still alive"
    gone, final = site.in_dialog(ok, expires=0, cseq=4)
    assert isinstance(gone, SipResponse) and gone.status == 200
    assert gone.headers.get("expires") == "0"
    assert isinstance(final, SipRequest)
    assert final.headers.get("subscription-state") == "terminated"
    assert site.mwi.subscriptions == {}
    (ended,) = site.recorder.of(MwiSubscriptionEnded)
    assert ended.reason == "unsubscribed"
    site.mwi.mailbox_changed("101")
    assert site.notifies() == []
    (again,) = site.in_dialog(ok, expires=600, cseq=5)
    assert isinstance(again, SipResponse) and again.status == 481


def test_refresh_without_expires_gets_the_default_and_out_of_order_cseq_is_500():
    site = Site()
    ok, _ = accepted(site)
    refreshed, _ = site.in_dialog(ok, expires=None, cseq=5)
    assert isinstance(refreshed, SipResponse) and refreshed.headers.get("expires") == "3600"
    (stale,) = site.in_dialog(ok, expires=600, cseq=4)
    assert isinstance(stale, SipResponse) and stale.status == 500


def test_subscription_expires_silently():
    site = Site()
    accepted(site, expires=120)
    site.now += 119
    site.mwi.tick()
    assert len(site.mwi.subscriptions) == 1
    site.now += 1
    site.mwi.tick()
    assert site.mwi.subscriptions == {}
    assert site.notifies() == [], "no NOTIFY to a phone that stopped refreshing"
    assert site.recorder.of(MwiSubscriptionEnded)[-1].reason == "expired"


@pytest.mark.parametrize("answer", [481, 408, None])
def test_a_refused_or_unanswered_notify_ends_the_subscription(answer: int | None):
    site = Site()
    accepted(site)
    site.mwi.mailbox_changed("101")
    ((notify, _),) = site.notifies()
    key = site.keys[-1]
    if answer is None:
        site.router(TransactionTimedOut(key, "F", None))
    else:
        site.router(ResponseReceived(key, make_response(notify, answer), SOURCE))
    assert site.mwi.subscriptions == {}
    assert site.recorder.of(MwiSubscriptionEnded)[-1].reason == "notify failed"


def test_a_2xx_to_our_notify_keeps_the_subscription_and_strangers_are_not_ours():
    site = Site()
    _ok, notify = accepted(site)
    key = site.keys[-1]
    assert site.mwi.response(key, make_response(notify, 200))
    assert len(site.mwi.subscriptions) == 1
    assert not site.mwi.response(("elsewhere",), None)


def test_unknown_event_packages_get_489_with_allow_events():
    site = Site()
    for event in ("presence", "dialog;id=1", None):
        request = subscribe_request(event=event)
        site.router(RequestReceived(("k",), request, SOURCE))
        (answer,) = site.out()
        assert isinstance(answer, SipResponse)
        assert (answer.status, answer.reason) == (489, "Bad Event")
        assert answer.headers.get("allow-events") == "message-summary"


def test_event_parameters_and_case_are_accepted():
    site = Site()
    accepted(site, extra="")
    request = subscribe_request(event="Message-Summary;id=7", call_id="sub2")
    site.router(RequestReceived(("k",), request, SOURCE))
    (challenge,) = site.out()
    assert isinstance(challenge, SipResponse) and challenge.status == 401


def test_without_the_service_subscribe_is_still_501():
    site = Site()
    site.router.mwi = None
    site.router(RequestReceived(("k",), subscribe_request(), SOURCE))
    (answer,) = site.out()
    assert isinstance(answer, SipResponse) and answer.status == 501
    assert "SUBSCRIBE" not in (answer.headers.get("allow") or "")


def test_options_lists_subscribe_when_the_service_runs():
    site = Site()
    options = parse_message(
        b"OPTIONS sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKo\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:pbx.example.com>\r\nCall-ID: o\r\n"
        b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    assert isinstance(options, SipRequest)
    site.router(RequestReceived(("k",), options, SOURCE))
    (answer,) = site.out()
    assert isinstance(answer, SipResponse)
    assert (answer.headers.get("allow") or "").endswith(", SUBSCRIBE")


@pytest.mark.parametrize(
    ("kw", "status", "header"),
    [
        ({"expires": 30}, 423, ("min-expires", "60")),
        ({"expires": None, "extra": "Expires: soon\r\n"}, 400, None),
        ({"extra": "Accept: application/pidf+xml\r\n"}, 406, ("accept", None)),
        ({"uri": "sip:bob@pbx.example.com"}, 404, None),
        ({"uri": "sip:102@pbx.example.com"}, 404, None),
        ({"extra": "Authorization: Digest username=\r\n", "authenticate": False}, 400, None),
    ],
)
def test_subscriptions_refused(kw: dict, status: int, header: tuple[str, str | None] | None):
    site = Site()
    (answer,) = site.subscribe(**kw)
    assert isinstance(answer, SipResponse) and answer.status == status, answer
    assert answer.to_tag
    if header is not None:
        name, value = header
        assert answer.headers.get(name) == (value or "application/simple-message-summary")
    assert site.mwi.subscriptions == {}


def test_wrong_password_is_challenged_again():
    site = Site()
    (answer,) = site.subscribe(password="nope")
    assert isinstance(answer, SipResponse) and answer.status == 401


def test_allow_subscribe_no_is_603():
    site = Site(extra=ALICE_MAILBOX + "allow_subscribe=no\n")
    (answer,) = site.subscribe()
    assert isinstance(answer, SipResponse) and answer.status == 603


def test_missing_contact_is_400():
    site = Site()
    request = subscribe_request()
    request.headers._index.pop("contact")
    replies: list[SipResponse] = []
    site.mwi.subscribe(request, site.config.endpoints["alice"], SOURCE, replies.append)
    (answer,) = replies
    assert answer.status == 400 and "Contact" in answer.reason
    assert site.mwi.subscriptions == {} and site.notifies() == []


@pytest.mark.parametrize(
    ("uri", "mailbox"),
    [
        ("sip:alice@pbx.example.com", "101@default"),
        ("sip:101@pbx.example.com", "101@default"),
        ("sip:pbx.example.com", "101@default"),
        ("sip:*97@pbx.example.com", "101@default"),
    ],
)
def test_resources_a_phone_may_subscribe_to(uri: str, mailbox: str):
    site = Site(extra=ALICE_MAILBOX + "voicemail_extension=*97\n")
    _ok, notify = accepted(site, uri=uri)
    assert site.recorder.of(MwiSubscribed)[-1].mailbox == mailbox
    assert summary_of(notify).account == "sip:*97@192.0.2.1:5060"


def test_aor_voicemail_extension_names_the_aor():
    extra = "[alice](+type=aor)\nmailboxes=101\nvoicemail_extension=8500\n"
    site = Site(extra=extra)
    _ok, notify = accepted(site, uri="sip:8500@pbx.example.com")
    assert summary_of(notify).account == "sip:8500@192.0.2.1:5060"


def test_long_expiry_is_shortened_and_a_fetch_keeps_no_subscription():
    site = Site()
    ok, _ = accepted(site, expires=100_000)
    assert ok.headers.get("expires") == "3600"
    fetch_ok, final = site.subscribe(expires=0, cseq=10)
    assert isinstance(fetch_ok, SipResponse) and fetch_ok.headers.get("expires") == "0"
    assert isinstance(final, SipRequest)
    assert final.headers.get("subscription-state") == "terminated"
    assert len(site.mwi.subscriptions) == 1, "only the first, real subscription"
