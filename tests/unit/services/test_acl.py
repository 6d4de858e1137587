"""ACL rules: in order, last match wins, default permit; contacts checked by host."""

from __future__ import annotations

import ipaddress

from switchboard.config.pjsip import Acl, Endpoint, PjsipConfig
from switchboard.diagnostics import Location
from switchboard.services.acl import Acls, permitted
from switchboard.sip.message import parse_datagram

HERE = Location("pjsip.conf", 1)


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def test_the_last_matching_rule_decides_from_a_default_of_permit() -> None:
    rules = (
        ("deny", net("0.0.0.0/0")),
        ("permit", net("10.0.0.0/8")),
        ("deny", net("10.9.0.0/16")),
    )
    assert permitted(rules, "10.1.2.3")
    assert not permitted(rules, "10.9.1.1")
    assert not permitted(rules, "192.0.2.1")
    assert permitted((), "192.0.2.1")
    assert permitted(rules, "::ffff:10.1.2.3")  # a v4 peer on a dual-stack socket
    assert not permitted(rules, "phone.example.com")  # not an address: refused
    assert permitted(rules, "[2001:db8::1]")  # no v6 rule matches: default permit


def pjsip() -> PjsipConfig:
    config = PjsipConfig()
    bob = Endpoint("bob", HERE)
    bob.ip_rules = (("deny", net("0.0.0.0/0")), ("permit", net("198.51.100.0/24")))
    alice = Endpoint("alice", HERE)
    alice.contact_rules = (("deny", net("192.0.2.0/24")),)
    config.endpoints = {"bob": bob, "alice": alice}
    office = Acl("office", HERE)
    office.ip_rules = (("deny", net("203.0.113.0/24")),)
    config.acls = {"office": office}
    return config


def test_endpoint_rules_and_type_acl_sections() -> None:
    config = pjsip()
    acls = Acls(config)
    assert acls.active
    bob = config.endpoints["bob"]
    assert acls.source_refused("198.51.100.7", bob) is None
    assert acls.source_refused("203.0.113.5", bob) is not None
    # the [office] type=acl section applies to every request, endpoint known or not
    assert acls.source_refused("203.0.113.5", None) is not None
    assert acls.source_refused("192.0.2.5", None) is None


def test_contacts_are_checked_by_host() -> None:
    config = pjsip()
    register = parse_datagram(
        b"REGISTER sip:pbx SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx\r\n"
        b"From: <sip:alice@pbx>;tag=1\r\nTo: <sip:alice@pbx>\r\nCall-ID: c\r\n"
        b"CSeq: 1 REGISTER\r\nContact: <sip:alice@192.0.2.9:5062;transport=udp>;expires=60\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert Acls(config).contact_refused(register, config.endpoints["alice"]) is not None  # type: ignore[arg-type]
    assert Acls(config).contact_refused(register, config.endpoints["bob"]) is None  # type: ignore[arg-type]
