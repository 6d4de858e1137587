"""RFC 3581: received and rport on the top Via of requests from behind NAT."""

from __future__ import annotations

from switchboard.sip.message import SipRequest, make_response, parse_message
from switchboard.sip.nat import stamp_via


def request(via: str, extra_via: str | None = None) -> SipRequest:
    lines = [
        "OPTIONS sip:pbx.example.com SIP/2.0",
        f"Via: {via}",
        *([f"Via: {extra_via}"] if extra_via else []),
        "From: <sip:a@example.com>;tag=1",
        "To: <sip:pbx.example.com>",
        "Call-ID: x",
        "CSeq: 1 OPTIONS",
        "Content-Length: 0",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, SipRequest)
    return message


def test_rport_is_filled_and_received_added():
    message = request("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport")
    stamp_via(message, "203.0.113.9", 40000, force_rport=False)
    assert message.headers.get_all("via") == [
        "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;received=203.0.113.9;rport=40000"
    ]
    assert message.branch == "z9hG4bK1"


def test_without_rport_received_only_when_the_host_differs():
    same = request("SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bK1")
    stamp_via(same, "203.0.113.9", 5060, force_rport=False)
    assert same.headers.get_all("via") == ["SIP/2.0/UDP 203.0.113.9:5060;branch=z9hG4bK1"]
    other = request("SIP/2.0/UDP phone.example.com;branch=z9hG4bK1")
    stamp_via(other, "203.0.113.9", 5060, force_rport=False)
    assert other.headers.get_all("via")[0].endswith(";received=203.0.113.9")


def test_force_rport_and_later_vias_are_kept_and_copied_into_responses():
    message = request(
        "SIP/2.0/TCP [2001:db8::5]:5060;branch=z9hG4bK1, SIP/2.0/UDP proxy;branch=z9hG4bK0",
        "SIP/2.0/UDP edge;branch=z9hG4bKe",
    )
    stamp_via(message, "2001:db8::9", 41000)
    vias = message.headers.get_all("via")
    assert vias == [
        "SIP/2.0/TCP [2001:db8::5]:5060;branch=z9hG4bK1;received=2001:db8::9;rport=41000",
        "SIP/2.0/UDP proxy;branch=z9hG4bK0",
        "SIP/2.0/UDP edge;branch=z9hG4bKe",
    ]
    assert make_response(message, 200).headers.get_all("via") == vias
