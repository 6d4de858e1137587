"""Messages: lazy parse, validation, responses copied byte for byte, serialisation."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.sip.errors import (
    RemoteProtocolError,
    UnanswerableError,
    UnsupportedUriSchemeError,
)
from switchboard.sip.headers import SipHeaders
from switchboard.sip.message import (
    SipRequest,
    SipResponse,
    check_max_forwards,
    check_require,
    error_response,
    make_response,
    parse_datagram,
    parse_message,
    unfold,
)
from switchboard.sip.uri import SipUri

REGISTER = (
    b"REGISTER sip:pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-1\r\n"
    b"Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-0\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Al\xc3\xafce \xff" <sip:alice@pbx.example.com>;tag=6d8f\r\n'
    b"To: <sip:alice@pbx.example.com>\r\n"
    b"Call-ID: abc@192.0.2.10\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Contact: <sip:alice@192.0.2.10:5060>;expires=60, <sip:alice@[2001:db8::1]>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def request(data: bytes = REGISTER) -> SipRequest:
    message = parse_datagram(data)
    assert isinstance(message, SipRequest)
    return message


def test_lazy_accessors() -> None:
    message = request()
    assert (message.method, message.uri_text) == ("REGISTER", "sip:pbx.example.com")
    assert message.branch == "z9hG4bK-1"
    assert message.top_via.host == "192.0.2.10"
    assert [v.branch for v in message.vias] == ["z9hG4bK-1", "z9hG4bK-0"]
    assert (message.from_tag, message.to_tag) == ("6d8f", None)
    assert message.from_.display_name == "Al\u00efce \udcff"
    assert message.call_id == "abc@192.0.2.10"
    assert message.cseq == (2, "REGISTER")
    assert message.content_length == 0
    assert message.content_type is None
    assert message.max_forwards == 70
    assert [c.params.get("expires") for c in message.contacts] == ["60", None]
    assert not message.is_wildcard_contact
    assert isinstance(message.uri, SipUri) and message.uri.host == "pbx.example.com"
    assert repr(message) == "<SipRequest REGISTER sip:pbx.example.com>"
    message.validate()


def test_compact_forms_folding_and_case() -> None:
    data = (
        b"OPTIONS sip:a@b SIP/2.0\r\n"
        b"v: SIP/2.0/UDP h1;branch=z9hG4bK1,\r\n SIP/2.0/UDP h2\r\n"
        b"VIA : SIP/2.0/UDP h3\r\n"
        b"f: <sip:c@d>\r\n  ;tag=9\r\n"
        b"t: sip:a@b\r\n"
        b"i: cid\r\n"
        b"cSeQ: 1\r\n\tOPTIONS\r\n"
        b"l: 0\r\n\r\n"
    )
    message = request(data)
    assert [v.host for v in message.vias] == ["h1", "h2", "h3"]
    assert message.branch == "z9hG4bK1"
    assert message.from_tag == "9"
    assert message.cseq == (1, "OPTIONS")
    assert message.headers.get("Call-ID") == "cid"
    message.validate()


_LWS_FOLD = re.compile(r"[ \t]*\r\n[ \t]+")  # RFC 3261 §7.3.1, the obvious regex


@given(st.lists(st.sampled_from(["a", " ", "\t", "\r\n", "\r", "\n", ":"]), max_size=40))
def test_unfold_replaces_each_fold_and_its_white_space_with_one_space(parts: list[str]) -> None:
    text = "".join(parts)
    assert unfold(text) == _LWS_FOLD.sub(" ", text)


def test_unfolding_a_long_run_of_spaces_is_linear() -> None:
    # Found by the end-to-end fuzz: a 60 kB datagram of spaces in one header field and a
    # compact form (so the careful reader runs) took 5 s of CPU with the regex above.
    spaces = " " * 60_000
    data = b"OPTIONS sip:a@b SIP/2.0\r\nv: " + spaces.encode() + b"\r\nl: 0\r\n\r\n"
    started = time.perf_counter()
    message = parse_datagram(data)
    assert unfold("a" + spaces * 3 + "\r\n" + spaces * 3 + "b") == "a b"
    assert time.perf_counter() - started < 1.0
    assert message.headers._index["via"] == [""]


def test_branch_falls_back_to_full_via_parse() -> None:
    base = b"OPTIONS sip:a@b SIP/2.0\r\nVia: %s\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"
    cases = {
        b"SIP/2.0/UDP h;branch=z9hG4bKa,SIP/2.0/UDP g": "z9hG4bKa",
        b"SIP/2.0/UDP h;Branch=z9hG4bKb": "z9hG4bKb",
        b"SIP/2.0/UDP h , SIP/2.0/UDP g;branch=z9hG4bKc": None,
        b'SIP/2.0/UDP h;x="1";branch=z9hG4bKd': "z9hG4bKd",
        b"SIP/2.0/UDP h;branch=": None,
    }
    for via, branch in cases.items():
        assert request(base.replace(b"%s", via)).branch == branch


def test_response_copies_via_from_to_call_id_cseq_exactly() -> None:
    message = request()
    response = make_response(message, 200, to_tag="srv1", headers=[("Expires", "60")])
    wire = response.serialize()
    assert wire == (
        b"SIP/2.0 200 OK\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-1\r\n"
        b"Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-0\r\n"
        b'From: "Al\xc3\xafce \xff" <sip:alice@pbx.example.com>;tag=6d8f\r\n'
        b"To: <sip:alice@pbx.example.com>;tag=srv1\r\n"
        b"Call-ID: abc@192.0.2.10\r\n"
        b"CSeq: 2 REGISTER\r\n"
        b"Expires: 60\r\n"
        b"Content-Length: 0\r\n"
        b"\r\n"
    )
    parsed = parse_datagram(wire)
    assert isinstance(parsed, SipResponse)
    assert (parsed.status, parsed.reason, parsed.to_tag) == (200, "OK", "srv1")
    assert repr(parsed) == "<SipResponse 200 OK>"
    parsed.validate()


def test_response_keeps_an_existing_to_tag_and_sets_content_length() -> None:
    data = REGISTER.replace(b"To: <sip:alice@pbx.example.com>", b"To: <sip:a@b>;tag=old")
    response = make_response(request(data), 486, to_tag="new", body=b"hello")
    assert response.headers.get("to") == "<sip:a@b>;tag=old"
    assert response.reason == "Busy Here"
    wire = response.serialize()
    assert wire.endswith(b"Content-Length: 5\r\n\r\nhello")
    assert make_response(request(), 299).reason == ""
    assert make_response(request(), 200, "Fine").reason == "Fine"
    # "tag" in a To URI is not a tag parameter.
    data = REGISTER.replace(b"To: <sip:alice@pbx.example.com>", b"To: <sip:tag@b>")
    assert make_response(request(data), 200, to_tag="t").headers.get("to") == "<sip:tag@b>;tag=t"


def test_serialising_a_built_request_recomputes_content_length() -> None:
    headers = SipHeaders.from_pairs(
        [("Via", "SIP/2.0/UDP h;branch=z9hG4bKx"), ("Content-Length", "999"), ("l", "7")]
    )
    built = SipRequest("MESSAGE", SipUri("b", user="a"), headers, b"hi")
    assert built.uri_text == "sip:a@b"
    assert built.uri == SipUri("b", user="a")
    assert built.serialize() == (
        b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
        b"Content-Length: 2\r\n\r\nhi"
    )


def test_datagram_framing() -> None:
    body = b"v=0\r\n"
    with_length = REGISTER.replace(b"Content-Length: 0", b"Content-Length: 5")
    assert parse_datagram(with_length + body + b"junk").body == body
    without = REGISTER.replace(b"Content-Length: 0\r\n", b"")
    assert parse_datagram(without + b"rest of datagram").body == b"rest of datagram"
    assert parse_datagram(b"\r\n\r\n" + REGISTER).method == "REGISTER"  # type: ignore[union-attr]
    no_empty_line = REGISTER[:-2]
    assert parse_datagram(no_empty_line).call_id == "abc@192.0.2.10"
    duplicate = REGISTER.replace(b"Content-Length: 0\r\n", b"Content-Length: 0\r\nl: 0\r\n")
    assert parse_datagram(duplicate).body == b""


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (REGISTER.replace(b"Content-Length: 0", b"Content-Length: 9"), 400),
        (REGISTER.replace(b"Content-Length: 0", b"Content-Length: five"), 400),
        (REGISTER.replace(b"Content-Length: 0", b"Content-Length: 0\r\nl: 1"), 400),
        (REGISTER.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505),
        (REGISTER.replace(b"SIP/2.0\r\n", b"HTTP/1.1\r\n", 1), 400),
        (REGISTER.replace(b"REGISTER sip", b"REG@STER sip", 1), 400),
        (REGISTER.replace(b"sip:pbx.example.com", b"mailto:x@y", 1), 416),
        (REGISTER.replace(b"sip:pbx.example.com", b"<sip:x>", 1), 400),
        (REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards 70"), 400),
        (REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\nX: y"), 400),
    ],
)
def test_malformed_requests_are_answerable(data: bytes, status: int) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message(data)
    assert caught.value.status == status
    assert caught.value.request is not None
    response = error_response(caught.value)
    assert response is not None and response.status == status
    assert response.headers.get("call-id") == "abc@192.0.2.10"


def test_unsupported_scheme_is_its_own_error() -> None:
    with pytest.raises(UnsupportedUriSchemeError) as caught:
        parse_datagram(REGISTER.replace(b"sip:pbx.example.com", b"im:x@y", 1))
    assert caught.value.scheme == "im"


def test_too_large_datagram_is_513() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_datagram(REGISTER, max_size=100)
    assert caught.value.status == 513


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n",
        b"garbage",
        b"SIP/2.0 99 Too Low\r\n\r\n",
        b"SIP/2.0 1000 Too High\r\n\r\n",
        b"SIP/2.0 abc Words\r\n\r\n",
        b"SIP/3.0 200 OK\r\n\r\n",
        b"SIP/2.0 200 OK\r\nNo colon here\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: 5\r\n\r\n",
    ],
)
def test_unanswerable_messages(data: bytes) -> None:
    with pytest.raises(UnanswerableError) as caught:
        parse_datagram(data)
    assert error_response(caught.value) is None


def test_validation_of_requests() -> None:
    def invalid(data: bytes) -> str:
        with pytest.raises(RemoteProtocolError) as caught:
            parse_message(data)
        assert caught.value.status == 400
        return caught.value.reason

    assert "Missing Call-ID" in invalid(REGISTER.replace(b"Call-ID: abc@192.0.2.10\r\n", b""))
    assert "More than one To" in invalid(REGISTER.replace(b"To:", b"To: <sip:x@y>\r\nt:"))
    assert "Call-ID" in invalid(REGISTER.replace(b"Call-ID: abc@192.0.2.10", b"Call-ID: a b"))
    assert "header field name" in invalid(REGISTER.replace(b"Call-ID:", b"Call@ID: x\r\ni:"))
    assert "CSeq method" in invalid(REGISTER.replace(b"2 REGISTER", b"2 INVITE"))
    assert "Max-Forwards" in invalid(REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards: 256"))
    assert "Empty Via" in invalid(REGISTER.replace(b"Via: SIP/2.0/UDP", b"Via:\r\nX: SIP/2.0/UDP"))
    assert "URI" in invalid(REGISTER.replace(b"<sip:alice@pbx.example.com>;tag", b"<sip:x y>;tag"))
    assert invalid(REGISTER.replace(b"Contact: <sip:alice@192.0.2.10:5060>", b"Contact: <sip:@>"))
    assert invalid(REGISTER.replace(b"To:", b"Route: bad route\r\nTo:"))
    assert "headers" in invalid(REGISTER.replace(b"sip:pbx.example.com", b"sip:p?a=b", 1))
    one_via = REGISTER.replace(b"Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-0\r\n", b"")
    for bare in (b"\r", b"\n"):
        broken = one_via.replace(b"Call-ID: abc", b"Call-ID: a" + bare + b"bc")
        assert "Bare CR or LF in the Call-ID" in invalid(broken)


def test_wildcard_contact() -> None:
    message = parse_message(REGISTER.replace(b"Contact: <sip:alice", b"Contact: *\r\nX: <sip"))
    assert message.is_wildcard_contact and message.contacts == []


def test_responses_are_validated_as_unanswerable() -> None:
    response = make_response(request(), 200).serialize()
    with pytest.raises(UnanswerableError):
        parse_message(response.replace(b"CSeq: 2 REGISTER", b"CSeq: x"))
    with pytest.raises(UnanswerableError):
        parse_message(response.replace(b"Call-ID: abc@192.0.2.10\r\n", b""))
    with pytest.raises(UnanswerableError):
        parse_datagram(response.replace(b"CSeq: 2 REGISTER\r\n", b"")).cseq  # noqa: B018


def test_max_forwards_and_require_helpers() -> None:
    message = request()
    check_max_forwards(message)
    check_require(message, ())
    forward = request(REGISTER.replace(b"Max-Forwards: 70\r\n", b""))
    assert forward.max_forwards is None
    check_max_forwards(forward)
    ack = request(
        REGISTER.replace(b"REGISTER", b"ACK").replace(b"Contact:", b"Require: 100rel\r\nContact:")
    )
    check_require(ack, ())
    with pytest.raises(RemoteProtocolError):
        parse_datagram(REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards: -1")).max_forwards  # type: ignore[union-attr]  # noqa: B018


def test_no_response_to_ack_or_without_request() -> None:
    ack = request(REGISTER.replace(b"REGISTER", b"ACK"))
    assert error_response(RemoteProtocolError(400, "x", request=ack)) is None
    assert error_response(RemoteProtocolError(400, "x")) is None


def test_no_error_response_when_the_to_field_is_unreadable() -> None:
    data = REGISTER.replace(b"To: <sip:alice@pbx.example.com>", b'To: "tag <sip:x@y>')
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message(data)
    assert error_response(caught.value, to_tag="t") is None
    assert error_response(caught.value) is not None


IPV6_REGISTER = (
    b"REGISTER sip:[2001:db8::10] SIP/2.0\r\n"
    b"To: sip:user@example.com\r\n"
    b"From: sip:user@example.com;tag=81x2\r\n"
    b"Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111\r\n"
    b"Via: SIP/2.0/UDP [2001:db8::9:255]:5070;branch=z9hG4bKjhja8781hjuaij65144;"
    b"received=2001:db8::9:255\r\n"
    b"Call-ID: SSG9559905523997077@hlau_4100\r\n"
    b"Max-Forwards: 70\r\n"
    b'Contact: "Caller" <sip:caller@[2001:db8::1]:5060;transport=tcp>\r\n'
    b"CSeq: 98176 REGISTER\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_ipv6_references_in_a_message() -> None:
    """RFC 5118 §4.1, §4.5 and §4.6: IPv6 in the Request-URI, Via and Contact."""
    message = parse_message(IPV6_REGISTER)
    assert isinstance(message, SipRequest)
    assert isinstance(message.uri, SipUri) and message.uri.host == "2001:db8::10"
    first, second = message.vias
    assert (first.host, first.port) == ("2001:db8::9:1", None)
    assert (second.host, second.port) == ("2001:db8::9:255", 5070)
    assert second.params["received"] == "2001:db8::9:255"
    assert message.branch == "z9hG4bKas3-111"
    (contact,) = message.contacts
    uri = SipUri.parse(contact.uri)
    assert (uri.host, uri.port, uri.params) == ("2001:db8::1", 5060, {"transport": "tcp"})


def test_ipv6_without_brackets_in_the_request_uri_is_400() -> None:
    """RFC 5118 §4.2."""
    data = IPV6_REGISTER.replace(b"sip:[2001:db8::10]", b"sip:user@2001:db8::10", 1)
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message(data)
    assert caught.value.status == 400


def test_serialising_writes_grouped_fields_whether_names_are_known_or_not() -> None:
    known = parse_datagram(REGISTER.replace(b"Max-Forwards: 70\r\n", b""))
    assert known.checked is False  # two Via lines
    wire = known.serialize()
    assert wire.count(b"Content-Length: 0\r\n") == 1
    assert b"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-1\r\nVia: SIP/2.0/TCP" in wire
    extra = b"X-Seen: 1\r\nmax-forwards: 70"
    unknown = parse_datagram(REGISTER.replace(b"Max-Forwards: 70", extra))
    lines = unknown.serialize().split(b"\r\n")
    assert lines[3:5] == [b"X-Seen: 1", b"Max-Forwards: 70"]
    without = unknown.serialize().replace(b"X-Seen: 1\r\n", b"")
    assert without == parse_datagram(REGISTER).serialize()


def test_a_block_of_known_names_each_once_is_checked() -> None:
    single_via = REGISTER.replace(b"Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-0\r\n", b"")
    assert parse_datagram(single_via).checked is True
    assert parse_datagram(single_via.replace(b"Max-Forwards", b"X-Max")).checked is False


def test_a_remembered_line_reads_the_same_in_every_context() -> None:
    single_via = REGISTER.replace(b"Via: SIP/2.0/TCP proxy.example.com;branch=z9hG4bK-0\r\n", b"")
    first = parse_datagram(single_via)
    again = parse_datagram(single_via)
    assert again.headers._index == first.headers._index
    assert again.checked is True
    twice = single_via.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nMax-Forwards: 70\r\n")
    assert parse_datagram(twice).checked is False
    folded = single_via.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\n  \r\n")
    assert parse_datagram(folded).max_forwards == 70  # type: ignore[union-attr]
    with pytest.raises(RemoteProtocolError, match="More than one Max-Forwards"):
        parse_message(twice)
