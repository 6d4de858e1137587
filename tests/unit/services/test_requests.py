"""The request router: which answer each kind of request gets, in RFC 3261 §8.2 order."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.core.events import EventBus
from switchboard.services.authenticate import EndpointAuthenticator
from switchboard.services.location import LocationService
from switchboard.services.registrar import Registrar, address_of_record_problem
from switchboard.services.requests import RequestRouter
from switchboard.sip.message import SipRequest, SipResponse, parse_message
from switchboard.sip.peer import Peer
from switchboard.sip.transaction.events import RequestReceived, TransactionKey
from tests.unit.config.helpers import load

ROOT = Path(__file__).resolve().parents[3]
RFC4475 = ROOT / "tests" / "fixtures" / "rfc4475"
REFERENCE = ROOT / "examples" / "reference"
PEER = Peer("udp", "192.0.2.1", 5060)


def register(to: str, extra: str = "") -> SipRequest:
    text = (
        "REGISTER sip:example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-r1\r\n"
        f"To: {to}\r\n"
        "From: <sip:alice@example.com>;tag=f1\r\n"
        "Call-ID: r1@192.0.2.1\r\n"
        "CSeq: 1 REGISTER\r\n"
        "Contact: <sip:alice@192.0.2.1>\r\n"
        f"{extra}Content-Length: 0\r\n\r\n"
    )
    request = parse_message(text.encode())
    assert isinstance(request, SipRequest)
    return request


@pytest.fixture
def answers() -> list[SipResponse]:
    return []


@pytest.fixture
def router(answers: list[SipResponse]) -> RequestRouter:
    files = {name: (REFERENCE / name).read_text() for name in ("pjsip.conf", "extensions.conf")}
    config, _ = load(files)
    bus = EventBus()
    authenticator = EndpointAuthenticator(config.pjsip, bus, b"k" * 32, salt=lambda: b"s" * 8)
    registrar = Registrar(config.pjsip, LocationService(bus), bus)

    def respond(key: TransactionKey, response: SipResponse) -> None:
        answers.append(response)

    return RequestRouter(authenticator, registrar, respond, clock=lambda: 1_800_000_000.0)


def answer(router: RequestRouter, answers: list[SipResponse], request: SipRequest) -> int:
    router(RequestReceived(("k",), request, PEER))
    assert len(answers) == 1
    return answers.pop().status


@pytest.mark.parametrize(
    "to", ["isbn:2983792873", "<tel:+15551234>", "<http://example.com/alice>", "<urn:x:y>"]
)
def test_register_for_a_non_sip_address_of_record_is_400_before_any_challenge(
    router: RequestRouter, answers: list[SipResponse], to: str
) -> None:
    request = register(to)
    assert address_of_record_problem(request) == "To is not a SIP or SIPS URI"
    router(RequestReceived(("k",), request, PEER))
    (response,) = answers
    assert response.status == 400
    assert response.reason == "To is not a SIP or SIPS URI"
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("to", ["<sip:alice@example.com>", "<SIPS:alice@example.com>"])
def test_register_for_a_sip_address_of_record_is_challenged(
    router: RequestRouter, answers: list[SipResponse], to: str
) -> None:
    request = register(to)
    assert address_of_record_problem(request) is None
    assert answer(router, answers, request) == 401


def test_unknown_authorization_scheme_is_ignored_and_challenged(
    router: RequestRouter, answers: list[SipResponse]
) -> None:
    # RFC 4475 §3.3.7: a registrar that authenticates challenges with a scheme it knows.
    request = register("<sip:alice@example.com>", "Authorization: NoOneKnowsThisScheme x=y\r\n")
    router(RequestReceived(("k",), request, PEER))
    (response,) = answers
    assert response.status == 401
    assert response.headers.get_all("WWW-Authenticate")


def test_malformed_digest_credentials_are_still_400(
    router: RequestRouter, answers: list[SipResponse]
) -> None:
    request = register("<sip:alice@example.com>", "Authorization: Digest junk\r\n")
    assert answer(router, answers, request) == 400


@pytest.mark.parametrize(("name", "status"), [("unksm2", 400), ("regaut01", 401)])
def test_rfc4475_registrar_cases(
    router: RequestRouter, answers: list[SipResponse], name: str, status: int
) -> None:
    request = parse_message((RFC4475 / f"{name}.dat").read_bytes())
    assert isinstance(request, SipRequest)
    assert answer(router, answers, request) == status


def test_first_register_is_challenged_without_a_transaction(router: RequestRouter):
    from switchboard.config.switchboard import default_security
    from switchboard.services.security import Guard

    settled = router.prefilter(register("<sip:alice@example.com>"), PEER)
    assert isinstance(settled, SipResponse) and settled.status == 401
    assert (settled.headers.get("www-authenticate") or "").startswith('Digest realm="asterisk"')
    assert "tag=" in (settled.headers.get("to") or "")
    with_credentials = register(
        "<sip:alice@example.com>",
        'Authorization: Digest username="alice", realm="asterisk", nonce="n", '
        'uri="sip:example.com", response="00"\r\n',
    )
    assert router.prefilter(with_credentials, PEER) is False, "checked by the registrar"
    assert router.prefilter(register("<sip:alice@example.com>", "Require: path\r\n"), PEER) is False
    assert router.prefilter(register("<tel:+1555>"), PEER) is False, "400 comes from the router"
    settings = default_security()
    settings.unauth_rate = 1
    router.guard = Guard(settings, EventBus(), lambda: 10.0)
    assert isinstance(router.prefilter(register("<sip:alice@example.com>"), PEER), SipResponse)
    assert router.prefilter(register("<sip:alice@example.com>"), PEER) is True, "rate-limited"
