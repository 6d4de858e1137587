"""Authentication, the registrar and the location service, with the events they publish."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.config.loader import load_config
from switchboard.configdir import DirectorySource
from switchboard.core.events import Event, EventBus
from switchboard.diagnostics import Diagnostics
from switchboard.services.authenticate import AuthFailed, EndpointAuthenticator, Verdict
from switchboard.services.location import (
    ContactAdded,
    ContactExpired,
    ContactRefreshed,
    ContactRemoved,
    LocationService,
)
from switchboard.services.registrar import Registrar, RegistrationRejected
from switchboard.sip.digest import DigestAlgorithm, compute_ha1, compute_response
from switchboard.sip.message import SipRequest, parse_message
from switchboard.sip.peer import Peer

REFERENCE = Path(__file__).parents[3] / "examples" / "reference"
SOURCE = Peer("udp", "192.0.2.10", 5062)
NOW = 1_800_000_000.0


def pjsip(extra: str = ""):
    folder = DirectorySource(REFERENCE)
    diags = Diagnostics()
    config = load_config(folder, diags)
    if extra:
        from switchboard.config.ini import ConfigReader
        from switchboard.config.pjsip import load_pjsip
        from tests.unit.config.conftest import DictSource

        text = (REFERENCE / "pjsip.conf").read_text() + extra
        conf = ConfigReader(DictSource({"pjsip.conf": text}), diags).read("pjsip.conf")
        assert conf is not None
        config.pjsip = load_pjsip(conf, diags)
    assert not diags.has_errors
    return config.pjsip


def register(
    user: str = "alice",
    *,
    contact: str | None = "<sip:alice@192.0.2.10:5062>",
    expires: int | None = 3600,
    call_id: str = "c1",
    cseq: int = 1,
    authorization: str | None = None,
    to_user: str | None = None,
) -> SipRequest:
    lines = [
        "REGISTER sip:pbx.example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKabc",
        f"From: <sip:{user}@pbx.example.com>;tag=f1",
        f"To: <sip:{to_user or user}@pbx.example.com>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        "Max-Forwards: 70",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    lines.append("Content-Length: 0")
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, SipRequest)
    return message


class Recorder:
    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe(self.events.append)

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


def authorization(challenge: str, user: str, password: str, uri: str = "sip:pbx.example.com"):
    params = dict(
        part.strip().split("=", 1) for part in challenge.removeprefix("Digest ").split(",")
    )
    nonce = params["nonce"].strip('"')
    realm = params["realm"].strip('"')
    ha1 = compute_ha1(DigestAlgorithm.MD5, user, realm, password)
    response = compute_response(
        DigestAlgorithm.MD5, ha1, nonce, "REGISTER", uri, qop="auth", nc="00000001", cnonce="xyz"
    )
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="xyz"'
    )


class TestAuthentication:
    def make(self, bus: EventBus, extra: str = "") -> EndpointAuthenticator:
        return EndpointAuthenticator(pjsip(extra), bus, b"k" * 32, lambda: b"saltsalt")

    def test_no_credentials_unknown_user_and_wrong_password_look_the_same(self, bus):
        auth = self.make(bus)
        recorder = Recorder(bus)
        first = auth.check(register(), SOURCE, NOW)
        assert first.verdict is Verdict.CHALLENGE and first.endpoint is None
        (challenge,) = first.challenge
        assert 'realm="asterisk"' in challenge and "algorithm=MD5" in challenge
        wrong = auth.check(
            register(authorization=authorization(challenge, "alice", "nope")), SOURCE, NOW
        )
        unknown = auth.check(
            register("mallory", authorization=authorization(challenge, "mallory", "x")),
            SOURCE,
            NOW,
        )
        assert wrong.verdict is unknown.verdict is Verdict.CHALLENGE
        assert len(wrong.challenge) == len(unknown.challenge) == 1
        assert [(e.username, e.reason) for e in recorder.of(AuthFailed)] == [
            ("alice", "wrong password"),
            ("mallory", "unknown user"),
        ]
        scan = auth.check(register("eve"), SOURCE, NOW)
        assert scan.verdict is Verdict.CHALLENGE and len(scan.challenge) == 1
        assert [(e.username, e.reason) for e in recorder.of(AuthFailed)][-1] == (
            "eve",
            "unknown user",
        ), "asking as an unknown user, even without credentials, is reported"

    def test_right_password_is_accepted_once_and_a_replay_is_refused(self, bus):
        auth = self.make(bus)
        (challenge,) = auth.check(register(), SOURCE, NOW).challenge
        request = register(authorization=authorization(challenge, "alice", "alice101"))
        accepted = auth.check(request, SOURCE, NOW + 1)
        assert accepted.verdict is Verdict.ACCEPTED and accepted.endpoint is not None
        assert accepted.endpoint.name == "alice"
        replay = auth.check(request, SOURCE, NOW + 2)
        assert replay.verdict is Verdict.CHALLENGE

    def test_expired_nonce_gets_stale(self, bus):
        auth = self.make(bus)
        (challenge,) = auth.check(register(), SOURCE, NOW).challenge
        late = auth.check(
            register(authorization=authorization(challenge, "alice", "alice101")), SOURCE, NOW + 600
        )
        assert late.verdict is Verdict.STALE
        assert "stale=true" in late.challenge[0]

    def test_sha256_is_offered_first_when_configured(self, bus):
        extra = "[global]\ntype=global\ndefault_auth_algorithms_uas=SHA-256,md5\n"
        auth = self.make(bus, extra)
        assert auth.digest.offered == (DigestAlgorithm.SHA_256, DigestAlgorithm.MD5)
        challenges = auth.check(register(), SOURCE, NOW).challenge
        assert ["SHA-256" in challenges[0], "MD5" in challenges[1]] == [True, True]

    def test_malformed_authorization_is_a_bad_request(self, bus):
        auth = self.make(bus)
        bad = auth.check(register(authorization='Digest username="alice'), SOURCE, NOW)
        assert bad.verdict is Verdict.BAD_REQUEST


class TestRegistrar:
    def make(self, bus: EventBus, extra: str = "") -> tuple[Registrar, LocationService]:
        config = pjsip(extra)
        location = LocationService(bus)
        return Registrar(config, location, bus), location

    def endpoint(self, registrar: Registrar, name: str = "alice"):
        return registrar.pjsip.endpoints[name]

    def test_add_refresh_remove_with_events(self, bus):
        registrar, location = self.make(bus)
        recorder = Recorder(bus)
        alice = self.endpoint(registrar)
        ok = registrar.register(register(), alice, SOURCE, NOW)
        assert ok.status == 200
        assert ok.headers.get_all("contact") == ["<sip:alice@192.0.2.10:5062>;expires=3600"]
        assert ok.headers.get("date") == "Fri, 15 Jan 2027 08:00:00 GMT"
        again = registrar.register(register(cseq=2, expires=120), alice, SOURCE, NOW + 10)
        assert again.headers.get_all("contact") == ["<sip:alice@192.0.2.10:5062>;expires=120"]
        gone = registrar.register(register(cseq=3, expires=0), alice, SOURCE, NOW + 20)
        assert gone.headers.get_all("contact") == []
        assert [type(e).__name__ for e in recorder.events] == [
            "ContactAdded",
            "ContactRefreshed",
            "ContactRemoved",
        ]
        added = recorder.of(ContactAdded)[0]
        assert (added.aor, added.expires, added.source) == ("alice", 3600, "udp:192.0.2.10:5062")
        assert location.contacts("alice") == []

    @pytest.mark.parametrize(
        "contact",
        ["<sips:alice@192.0.2.10:5061>", "<sip:alice@192.0.2.10:5061;transport=TLS>"],
    )
    def test_a_tls_only_contact_binds_over_tls_only(self, bus, contact):
        registrar, location = self.make(bus)
        recorder = Recorder(bus)
        alice = self.endpoint(registrar)
        for transport in ("udp", "tcp"):
            source = Peer(transport, "192.0.2.10", 5062)  # type: ignore[arg-type]
            refused = registrar.register(register(contact=contact), alice, source, NOW)
            assert refused.status == 403
        assert [e.reason for e in recorder.of(RegistrationRejected)] == [
            "a TLS-only contact over udp",
            "a TLS-only contact over tcp",
        ]
        assert location.contacts("alice") == []
        tls = Peer("tls", "192.0.2.10", 50611)
        assert registrar.register(register(contact=contact), alice, tls, NOW).status == 200
        assert len(location.contacts("alice")) == 1
        unregister = register(contact=contact, expires=0, cseq=2)
        assert registrar.register(unregister, alice, SOURCE, NOW).status == 200  # removal: allowed
        assert location.contacts("alice") == []

    def test_expiry_clamping_and_contact_parameter(self, bus):
        registrar, _ = self.make(bus)
        alice = self.endpoint(registrar)
        low = registrar.register(register(expires=5), alice, SOURCE, NOW)
        assert low.headers.get_all("contact")[0].endswith("expires=60")
        assert low.headers.get("expires") == "60"
        param = registrar.register(
            register(contact="<sip:alice@192.0.2.10:5062>;expires=99999", expires=None),
            alice,
            SOURCE,
            NOW,
        )
        assert param.headers.get_all("contact")[0].endswith("expires=7200")
        assert param.headers.get("expires") is None

    def test_max_contacts_403_and_remove_existing_replaces_the_soonest(self, bus):
        registrar, location = self.make(bus)
        recorder = Recorder(bus)
        alice = self.endpoint(registrar)
        registrar.register(register(), alice, SOURCE, NOW)
        other = register(contact="<sip:alice@198.51.100.7:5060>", call_id="c2")
        refused = registrar.register(other, alice, SOURCE, NOW)
        assert refused.status == 403
        assert recorder.of(RegistrationRejected)[0].reason == "max_contacts reached"
        registrar, location = self.make(bus, "[alice](+type=aor)\nremove_existing=yes\n")
        registrar.register(register(), alice, SOURCE, NOW)
        replaced = registrar.register(other, alice, SOURCE, NOW + 1)
        assert replaced.status == 200
        assert [c.uri for c in location.contacts("alice")] == ["sip:alice@198.51.100.7:5060"]
        assert recorder.of(ContactRemoved)[-1].reason == "replaced (remove_existing)"

    def test_star_contact(self, bus):
        registrar, location = self.make(bus)
        alice = self.endpoint(registrar)
        registrar.register(register(), alice, SOURCE, NOW)
        assert (
            registrar.register(register(contact="*", expires=60), alice, SOURCE, NOW).status == 400
        )
        assert (
            registrar.register(register(contact="*", expires=0), alice, SOURCE, NOW).status == 200
        )
        assert location.contacts("alice") == []

    def test_wrong_aor_and_no_aors(self, bus):
        registrar, _ = self.make(bus, "[carol]\ntype=endpoint\nallow=ulaw\n")
        alice = self.endpoint(registrar)
        assert registrar.register(register(to_user="bob"), alice, SOURCE, NOW).status == 404
        carol = self.endpoint(registrar, "carol")
        assert registrar.register(register("carol"), carol, SOURCE, NOW).status == 403

    def test_rewrite_contact_uses_the_source_address(self, bus):
        registrar, location = self.make(bus, "[alice](+type=endpoint)\nrewrite_contact=yes\n")
        alice = self.endpoint(registrar)
        nat = Peer("tcp", "203.0.113.9", 40000, 7)
        registrar.register(register(contact="<sip:alice@10.0.0.5:5060>"), alice, nat, NOW)
        (contact,) = location.contacts("alice")
        assert contact.uri == "sip:alice@203.0.113.9:40000;transport=tcp"
        assert (contact.transport, contact.connection) == ("tcp", 7)

    def test_query_without_contact_lists_bindings(self, bus):
        registrar, _ = self.make(bus)
        alice = self.endpoint(registrar)
        registrar.register(register(), alice, SOURCE, NOW)
        query = registrar.register(register(contact=None, expires=None), alice, SOURCE, NOW + 100)
        assert query.headers.get_all("contact") == ["<sip:alice@192.0.2.10:5062>;expires=3500"]


class TestLocation:
    def test_expiry_events_and_heap_stays_small(self, bus):
        registrar_bus = bus
        recorder = Recorder(registrar_bus)
        registrar = Registrar(pjsip(), LocationService(bus), bus)
        location = registrar.location
        alice = registrar.pjsip.endpoints["alice"]
        for i in range(500):
            registrar.register(register(cseq=i + 1, expires=60), alice, SOURCE, NOW + i)
        assert len(location) == 1
        assert location.expire(NOW + 499 + 59) == 0
        assert location.expire(NOW + 499 + 60) == 1
        assert len(recorder.of(ContactExpired)) == 1
        assert len(location._expiry) <= 64
        assert len(recorder.of(ContactRefreshed)) == 499

    def test_store_round_trip(self, tmp_path: Path, bus):
        from switchboard.store.contacts import SqlContactStore, sqlite_engine

        store = SqlContactStore(sqlite_engine(str(tmp_path / "db.sqlite")))
        registrar = Registrar(pjsip(), LocationService(bus), bus)
        alice = registrar.pjsip.endpoints["alice"]
        registrar.register(register(), alice, Peer("tcp", "192.0.2.10", 5062, 3), NOW)
        store.save(*registrar.location.take_changes())
        fresh = LocationService(EventBus())
        assert fresh.restore(store.load(), NOW + 10) == 1
        (contact,) = fresh.contacts("alice")
        assert (contact.uri, contact.transport, contact.connection) == (
            "sip:alice@192.0.2.10:5062",
            "tcp",
            0,
        )
        assert LocationService(EventBus()).restore(store.load(), NOW + 4000) == 0
        registrar.register(register(cseq=2, expires=0), alice, SOURCE, NOW + 20)
        store.save(*registrar.location.take_changes())
        assert store.load() == []
