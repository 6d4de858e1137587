"""Header field index and grammar: compact forms, lists, quotes, name-addr, Via, CSeq."""

from __future__ import annotations

import pytest

from switchboard.sip.errors import LocalProtocolError, RemoteProtocolError
from switchboard.sip.headers import (
    CSeq,
    NameAddress,
    SipHeaders,
    Via,
    canonical_name,
    display_name,
    parse_cseq,
    parse_params,
    quote,
    split_commas,
    tag_of,
    unquote,
)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("i", "call-id"),
        ("m", "contact"),
        ("f", "from"),
        ("t", "to"),
        ("v", "via"),
        ("l", "content-length"),
        ("c", "content-type"),
        ("k", "supported"),
        ("s", "subject"),
        ("e", "content-encoding"),
        ("o", "event"),
        ("u", "allow-events"),
        ("r", "refer-to"),
        ("b", "referred-by"),
        ("x", "session-expires"),
        ("y", "identity"),
        ("CALL-ID", "call-id"),
        (" Via ", "via"),
        ("X-Custom", "x-custom"),
    ],
)
def test_canonical_names(name: str, key: str) -> None:
    assert canonical_name(name) == key


def test_display_names() -> None:
    assert display_name("call-id") == "Call-ID"
    assert display_name("cseq") == "CSeq"
    assert display_name("www-authenticate") == "WWW-Authenticate"
    assert display_name("x-foo-bar") == "X-Foo-Bar"


def test_header_index_operations() -> None:
    headers = SipHeaders.from_pairs([("Via", "a"), ("v", "b, c"), ("Subject", "x, y")])
    assert headers.get("VIA") == "a"
    assert headers.fields("via") == ["a", "b, c"]
    assert headers.get_all("v") == ["a", "b", "c"]
    assert headers.get_all("subject") == ["x, y"]  # not a list header
    assert "s" in headers and "Route" not in headers and 3 not in headers
    assert headers.get("route") is None
    assert list(headers) == ["via", "subject"]
    assert list(headers.items()) == [("Via", "a"), ("Via", "b, c"), ("Subject", "x, y")]
    copy = headers.copy()
    headers.set("Via", "z")
    headers.remove("subject")
    headers.remove("absent")
    assert list(headers.items()) == [("Via", "z")]
    assert copy.fields("via") == ["a", "b, c"]


def test_empty_list_header_has_no_values() -> None:
    assert SipHeaders.from_pairs([("Supported", "")]).get_all("supported") == []


def test_commas_inside_quotes_and_angle_brackets_do_not_split() -> None:
    value = '"Doe, John" <sip:j@x;a=1,2>;q=0.5 , <sip:k@y>,"\\"q,\\"" <sip:z@z>'
    assert split_commas(value) == [
        '"Doe, John" <sip:j@x;a=1,2>;q=0.5',
        "<sip:k@y>",
        '"\\"q,\\"" <sip:z@z>',
    ]
    assert split_commas("a,,b") == ["a", "", "b"]
    for bad in ('"open, x', "<sip:open, x"):
        with pytest.raises(RemoteProtocolError):
            split_commas(bad)


def test_quoted_strings() -> None:
    assert unquote('"J Rosenberg \\\\\\""') == 'J Rosenberg \\"'
    assert unquote('"plain"') == "plain"
    assert unquote("token") == "token"
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    assert unquote(quote('a"b\\c')) == 'a"b\\c'


def test_params() -> None:
    assert parse_params(' tag = 98asjd8 ; LR ;q=0.33;x="a;b";received=2001:db8::9:255') == {
        "tag": "98asjd8",
        "lr": None,
        "q": "0.33",
        "x": '"a;b"',
        "received": "2001:db8::9:255",
    }
    for bad in ("", "a;;b", "a=", "a b=c", "a=b c", 'a="open'):
        with pytest.raises(RemoteProtocolError):
            parse_params(bad)


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize(
    ("value", "display", "uri", "params"),
    [
        ("<sip:a@b>", None, "sip:a@b", {}),
        ("<sip:a@b>;tag=1", None, "sip:a@b", {"tag": "1"}),
        ("sip:a@b;tag=1;user=phone", None, "sip:a@b", {"tag": "1", "user": "phone"}),
        ("sip:a@b", None, "sip:a@b", {}),
        ('"Alice" <sip:a@b> ; tag = x', "Alice", "sip:a@b", {"tag": "x"}),
        ('"J Rosenberg \\\\\\""       <sip:j@e>', 'J Rosenberg \\"', "sip:j@e", {}),
        (
            "caller<sip:caller@example.com>;tag=323",
            "caller",
            "sip:caller@example.com",
            {"tag": "323"},
        ),
        ("Bob  Smith <sip:b@c>", "Bob Smith", "sip:b@c", {}),
        ('"x" <sip:a@b>;p="q;r"', "x", "sip:a@b", {"p": '"q;r"'}),
        ("<urn:uuid:1>;expires=3", None, "urn:uuid:1", {"expires": "3"}),
    ],
)
def test_name_addr_forms(
    value: str, display: str | None, uri: str, params: dict[str, str | None], strict: bool
) -> None:
    address = NameAddress.parse(value, strict)
    assert (address.display_name, address.uri, address.params) == (display, uri, params)
    assert tag_of(value) == params.get("tag")


def test_name_addr_serialises() -> None:
    address = NameAddress("sip:a@b", 'Mr "X"', {"tag": "1", "lr": None})
    assert str(address) == '"Mr \\"X\\"" <sip:a@b>;tag=1;lr'
    assert NameAddress.parse(str(address)).display_name == 'Mr "X"'
    assert repr(NameAddress("sip:a@b")) == "NameAddress('<sip:a@b>')"


@pytest.mark.parametrize(
    "value",
    [
        '"Mr. J. User <sip:j.user@example.com>',  # RFC 4475 quotbal
        '"Watson, Thomas" < sip:t.watson@example.org >',  # badaspec
        "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",  # baddn
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",  # regbadct
        '"Joe" <sip:joe@example.org>;;;;',  # badinv01
        '"x" sip:a@b',
        "<sip:a@b",
        "<sip:a@b> junk",
        "<>",
        "",
    ],
)
def test_malformed_name_addrs(value: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        NameAddress.parse(value)
    assert caught.value.status == 400


def test_tag_lookup_corner_cases() -> None:
    assert tag_of("<sip:a@b>;x=1;tag=abc;y") == "abc"
    assert tag_of("<sip:a@b>;TAG=abc") == "abc"
    assert tag_of("<sip:a@b;tag=inuri>") is None
    assert tag_of("<sip:a@b>;xtag=1") is None
    assert tag_of('"A" <sip:a@b>;tag=q') == "q"


@pytest.mark.parametrize("strict", [True, False])
def test_via_forms(strict: bool) -> None:
    via = Via.parse("SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK-1", strict)
    assert (via.transport, via.host, via.port, via.branch) == (
        "UDP",
        "192.0.2.10",
        5060,
        "z9hG4bK-1",
    )
    assert via.params == {"rport": None, "branch": "z9hG4bK-1"}
    folded = Via.parse("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw", strict)
    assert (folded.transport, folded.host, folded.branch) == ("UDP", "192.0.2.2", "390skdjuw")
    v6 = Via.parse("SIP/2.0/TCP [2001:db8::1]:5061;received=2001:db8::9:255", strict)
    assert (v6.host, v6.port, v6.params["received"]) == ("2001:db8::1", 5061, "2001:db8::9:255")
    assert str(v6) == "SIP/2.0/TCP [2001:db8::1]:5061;received=2001:db8::9:255"
    assert Via.parse("SIP/2.0/unknown t4.example.com", strict).transport == "UNKNOWN"
    assert Via.parse('SIP/2.0/UDP h;x="a;b"', strict).params == {"x": '"a;b"'}
    assert repr(Via("TLS", "h")) == "Via('SIP/2.0/TLS h')"


@pytest.mark.parametrize(
    "value",
    [
        "SIP/2.0/UDP 192.0.2.15;;",
        "SIP/2.0/UDP",
        "SIP/2.0 host",
        "HTTP/2.0/UDP host",
        "SIP/2.0/UDP host:port",
        "SIP/2.0/UDP host:123456",
        "SIP/2.0/UDP [::1",
        "SIP/2.0/UDP ho$t",
        "SIP/2.0/U@P host",
    ],
)
def test_malformed_vias(value: str) -> None:
    with pytest.raises(RemoteProtocolError):
        Via.parse(value)


def test_cseq() -> None:
    assert parse_cseq("0009\r\n INVITE".replace("\r\n", "")) == CSeq(9, "INVITE")
    assert parse_cseq("4294967295 RE%47IST%45R") == (4294967295, "RE%47IST%45R")
    for bad in (
        "4294967296 INVITE",
        "36893488147419103232 REGISTER",
        "1",
        "x INVITE",
        "1 A B",
        "1 @",
    ):
        with pytest.raises(RemoteProtocolError):
            parse_cseq(bad)


def test_loose_parsing_falls_back_to_the_strict_parser() -> None:
    assert NameAddress.parse("<sip:a@b>;tag=t", strict=False).tag == "t"
    for value in ("<>", ";tag=1"):
        with pytest.raises(RemoteProtocolError):
            NameAddress.parse(value, strict=False)


@pytest.mark.parametrize(
    "value",
    ["SIP/2.0/UDP host:99999", 'SIP/2.0/UDP h;x="a;b";;', "SIP/2.0/UDP [::1]:5060;;"],
)
def test_strict_via_errors_behind_the_fast_grammar(value: str) -> None:
    with pytest.raises(RemoteProtocolError):
        Via.parse(value)


def test_strict_parser_leaves_uri_checks_to_validation() -> None:
    # Not the fast grammar's shape, but structurally a name-addr: the URI check says no.
    assert NameAddress.parse("<sip:a b>").uri == "sip:a b"


def test_tag_lookup_behind_display_names() -> None:
    assert tag_of('"Alice" <sip:a@b>;tag=9a') == "9a"
    assert tag_of('"Al;tag=x" <sip:a@b>') is None
    assert tag_of('"A \\"q\\"" <sip:a@b>;tag=e') == "e"
    assert tag_of('"A>" <sip:a@b>;tag=f') == "f"
    with pytest.raises(RemoteProtocolError):
        tag_of('"unterminated <sip:a@b>;tag=g')


def test_building_headers_refuses_injection() -> None:
    headers = SipHeaders()
    for name, value in (("Subject", "hi\r\nVia: evil"), ("Bad Name", "x"), ("X:Y", "z")):
        with pytest.raises(LocalProtocolError):
            headers.add(name, value)
        with pytest.raises(LocalProtocolError):
            headers.set(name, value)
    assert list(headers) == []
