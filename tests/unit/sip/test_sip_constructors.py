"""The hand-written constructors of the classes built for every REGISTER (plain ``__init__``
methods that mypyc compiles, where the dataclass's own stays interpreted) set every field,
in the dataclass's order, with its defaults, and keep the objects frozen and hashable."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.constructors import check_constructor

from switchboard.services.authenticate import AuthDecision, AuthFailed, Verdict
from switchboard.services.location import (
    ContactAdded,
    ContactExpired,
    ContactRefreshed,
    ContactRemoved,
)
from switchboard.services.registrar import RegistrationRejected
from switchboard.sip.digest import AuthResult, DigestCredentials, Outcome, Reason
from switchboard.sip.message import parse_datagram
from switchboard.sip.peer import Peer
from switchboard.sip.transaction.events import (
    AckReceived,
    CancelReceived,
    RequestReceived,
    ResponseReceived,
    TransactionFailed,
    TransactionTerminated,
    TransactionTimedOut,
)

PEER = Peer("udp", "192.0.2.1", 5060)
REQUEST = parse_datagram(
    b"OPTIONS sip:pbx@192.0.2.9 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n"
    b"From: <sip:alice@192.0.2.9>;tag=1\r\nTo: <sip:pbx@192.0.2.9>\r\n"
    b"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
)
RESPONSE = parse_datagram(
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK-2\r\n"
    b"From: <sip:pbx@192.0.2.9>;tag=2\r\nTo: <sip:alice@192.0.2.1>;tag=3\r\n"
    b"Call-ID: c2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)
KEY = ("z9hG4bK-1", "192.0.2.1:5060", "OPTIONS")

CASES: list[tuple[type[Any], dict[str, Any]]] = [
    (Peer, {"transport": "tcp", "host": "2001:db8::1", "port": 5061, "connection_id": 7}),
    (RequestReceived, {"key": KEY, "request": REQUEST, "peer": PEER}),
    (ResponseReceived, {"key": KEY, "response": RESPONSE, "peer": PEER}),
    (TransactionTimedOut, {"key": KEY, "timer": "B", "response": RESPONSE}),
    (TransactionFailed, {"key": KEY, "response": RESPONSE}),
    (TransactionTerminated, {"key": KEY}),
    (AckReceived, {"key": KEY, "request": REQUEST, "peer": PEER}),
    (CancelReceived, {"key": KEY, "invite_key": KEY[:2], "request": REQUEST, "peer": PEER}),
    (
        DigestCredentials,
        {
            "username": "alice",
            "realm": "pbx",
            "nonce": "n1",
            "uri": "sip:pbx",
            "response": "0" * 32,
            "algorithm": "SHA-256",
            "cnonce": "c1",
            "qop": "auth",
            "nc": "00000001",
            "opaque": "o1",
        },
    ),
    (AuthResult, {"outcome": Outcome.STALE, "reason": Reason.STALE_NONCE}),
    (AuthDecision, {"verdict": Verdict.CHALLENGE, "endpoint": None, "challenge": ["x"]}),
    (
        AuthFailed,
        {
            "source": "udp:192.0.2.1:5060",
            "host": "192.0.2.1",
            "username": "alice",
            "method": "REGISTER",
            "reason": "wrong password",
        },
    ),
    (
        ContactAdded,
        {
            "aor": "alice",
            "uri": "sip:alice@192.0.2.1",
            "endpoint": "alice",
            "expires": 3600,
            "source": "udp:192.0.2.1:5060",
            "user_agent": "phone",
        },
    ),
    (
        ContactRefreshed,
        {"aor": "alice", "uri": "sip:alice@192.0.2.1", "endpoint": "alice", "expires": 60},
    ),
    (
        ContactRemoved,
        {"aor": "alice", "uri": "sip:alice@192.0.2.1", "endpoint": "alice", "reason": "gone"},
    ),
    (ContactExpired, {"aor": "alice", "uri": "sip:alice@192.0.2.1", "endpoint": "alice"}),
    (
        RegistrationRejected,
        {
            "source": "udp:192.0.2.1:5060",
            "endpoint": "alice",
            "aor": "alice",
            "status": 403,
            "reason": "max_contacts=0",
        },
    ),
]


@pytest.mark.parametrize(("cls", "values"), CASES, ids=[cls.__name__ for cls, _ in CASES])
def test_constructor_sets_every_field_keeps_defaults_and_stays_frozen(
    cls: type[Any], values: dict[str, Any]
) -> None:
    # AuthDecision holds a list: unhashable, as the generated dataclass made it
    check_constructor(cls, values, hashable=cls is not AuthDecision)
