"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966, RFC 5118)."""

from __future__ import annotations

import pytest

from switchboard.sip.errors import RemoteProtocolError, UnsupportedUriSchemeError
from switchboard.sip.uri import SipUri, TelUri, check_absolute_uri, parse_uri, uri_scheme


def test_all_parts_of_a_sip_uri() -> None:
    uri = parse_uri("sips:alice:secret@Example.COM:5061;transport=TCP;lr;Maddr=x?subject=hi&x=%41")
    assert isinstance(uri, SipUri)
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips",
        "alice",
        "secret",
        "Example.COM",
        5061,
    )
    assert uri.params == {"transport": "TCP", "lr": None, "maddr": "x"}
    assert uri.headers == {"subject": "hi", "x": "A"}


def test_escapes_are_decoded_once_and_encoded_again() -> None:
    uri = SipUri.parse("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31")
    assert uri.user == "caller"
    assert uri.params == {"lr": None, "name": "value%41"}
    assert str(uri) == "sip:caller@host5.example.net;lr;name=value%2541"
    assert SipUri.parse(str(uri)) == uri


def test_escaped_nulls_do_not_shorten_the_user() -> None:
    one, two = SipUri.parse("sip:%00@h.example.com"), SipUri.parse("sip:%00%00@h.example.com")
    assert (one.user, two.user) == ("\x00", "\x00\x00")
    assert one != two


def test_user_may_hold_semicolons_and_escaped_at() -> None:
    uri = SipUri.parse("sip:user;par=u%40example.net@example.com")
    assert uri.user == "user;par=u@example.net"
    assert uri.host == "example.com"
    assert uri.params == {}


def test_comparison_follows_rfc_3261_19_1_4() -> None:
    assert SipUri.parse("sip:alice@EXAMPLE.com") == SipUri.parse("sip:alice@example.com")
    assert SipUri.parse("sip:Alice@example.com") != SipUri.parse("sip:alice@example.com")
    assert SipUri.parse("sip:a@h;transport=tcp") != SipUri.parse("sip:a@h")
    assert SipUri.parse("sip:a@h;foo=1") == SipUri.parse("sip:a@h")
    assert SipUri.parse("sip:a@h;foo=1") != SipUri.parse("sip:a@h;foo=2")
    assert SipUri.parse("sip:a@h:5060") != SipUri.parse("sip:a@h")
    assert SipUri.parse("sip:a@h") != SipUri.parse("sips:a@h")
    assert SipUri.parse("sip:a@h?subject=x") != SipUri.parse("sip:a@h")
    assert hash(SipUri.parse("sip:a@H")) == hash(SipUri.parse("sip:a@h"))
    assert SipUri.parse("sip:a@h") != "sip:a@h"


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("sip:[2001:db8::10]", "2001:db8::10", None),
        ("sip:user@[2001:db8::10]:5070", "2001:db8::10", 5070),
        ("sip:user@[2001:db8::10:5070]", "2001:db8::10:5070", None),  # RFC 5118 §4.5
        ("sip:user@[::ffff:192.0.2.10]", "::ffff:192.0.2.10", None),
    ],
)
def test_ipv6_references(text: str, host: str, port: int | None) -> None:
    uri = SipUri.parse(text)
    assert (uri.host, uri.port) == (host, port)
    assert str(uri) == text


def test_ipv6_forms_compare_equal() -> None:
    assert SipUri.parse("sip:u@[2001:db8::9:1]") == SipUri.parse("sip:u@[2001:db8:0:0:0:0:9:1]")


@pytest.mark.parametrize(
    "text",
    [
        "sip:user@2001:db8::10",  # RFC 5118 §4.2: IPv6 without brackets
        "sip:user@[2001:db8:::192.0.2.1]",  # RFC 5118 §4.9
        "sip:user@[2001:db8::10",
        "sip:user@host:99999",
        "sip:user@host:12a",
        "sip:user@ho st",
        "sip:us er@host",
        "sip:user@example.com; lr",
        "sip:user@host;a=b c",
        "sip:user@host?x",
        "sip:",
        "sip:user@",
        "sip:user@-bad-.com",
        "sips:%zz@host",
        "tel:12345",  # local number without phone-context
        "tel:+",
        "tel:+1;bad name=x",
        "<sip:user@example.com>",
        "no-scheme-here",
    ],
)
def test_malformed_uris_are_400(text: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_uri(text)
    assert caught.value.status == 400
    assert not isinstance(caught.value, UnsupportedUriSchemeError)


@pytest.mark.parametrize(
    "text",
    ["nobodyKnowsThisScheme:totallyopaquecontent", "soap.beep://192.0.2.103:3002", "http://x"],
)
def test_other_schemes_are_416(text: str) -> None:
    with pytest.raises(UnsupportedUriSchemeError) as caught:
        parse_uri(text)
    assert caught.value.status == 416


def test_tel_uris() -> None:
    uri = parse_uri("tel:+1-201-555-0123;ext=1234")
    assert isinstance(uri, TelUri)
    assert uri.is_global
    assert uri.params == {"ext": "1234"}
    assert uri == TelUri.parse("tel:+12015550123;EXT=1234")
    assert hash(uri) == hash(TelUri.parse("tel:+1.201.555.0123;ext=1234"))
    local = TelUri.parse("tel:7042;phone-context=example.com")
    assert not local.is_global
    assert str(local) == "tel:7042;phone-context=example.com"
    assert local != uri
    assert uri != "tel:+12015550123"


def test_building_a_uri() -> None:
    uri = SipUri("192.0.2.1", user="al ice", port=5060, params={"transport": "tcp"})
    assert str(uri) == "sip:al%20ice@192.0.2.1:5060;transport=tcp"
    assert repr(uri) == "SipUri('sip:al%20ice@192.0.2.1:5060;transport=tcp')"
    assert str(SipUri("h", user="u", password="p:w")) == "sip:u:p%3Aw@h"
    assert repr(TelUri("+1")) == "TelUri('tel:+1')"


def test_scheme_helpers() -> None:
    assert uri_scheme("SIP:x") == "sip"
    assert uri_scheme(":x") is None
    assert uri_scheme("1sip:x") is None
    check_absolute_uri("isbn:2983792873")
    check_absolute_uri("sip:a@b")
    for bad in ("isbn:", "a b:c", "http://x y", "sip:a b@c"):
        with pytest.raises(RemoteProtocolError):
            check_absolute_uri(bad)


def test_each_class_parses_only_its_schemes() -> None:
    with pytest.raises(RemoteProtocolError):
        SipUri.parse("tel:+1")
    with pytest.raises(UnsupportedUriSchemeError):
        TelUri.parse("sip:a@b")
    uri = SipUri("h", user="a", headers={"Subject": "a b", "to": "x@y"})
    assert str(uri) == "sip:a@h?Subject=a%20b&to=x%40y"
    assert SipUri.parse(str(uri)) == uri
