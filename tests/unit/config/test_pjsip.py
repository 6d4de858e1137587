"""pjsip.conf into typed objects: values, defaults, inheritance, and every error message."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from tests.unit.config.helpers import load

REFERENCE = Path(__file__).parents[3] / "examples" / "reference"


def test_reference_pjsip_builds_every_object():
    config, findings = load({"pjsip.conf": (REFERENCE / "pjsip.conf").read_bytes()})
    assert findings == []
    pjsip = config.pjsip
    assert list(pjsip.transports) == ["transport-udp"]
    udp = pjsip.transports["transport-udp"]
    assert (udp.protocol, udp.bind.host, udp.port) == ("udp", "0.0.0.0", 5060)
    assert set(pjsip.endpoints) == {"alice", "bob"} == set(pjsip.auths) == set(pjsip.aors)
    alice = pjsip.endpoints["alice"]
    assert alice.context == "from-internal"
    assert alice.codecs == ("ulaw",)
    assert alice.language == "fr"
    assert alice.auth == ("alice",) and alice.aors == ("alice",)
    assert alice.dtmf_mode == "rfc4733" and alice.direct_media is True
    assert str(alice.where("allow")) == "pjsip.conf:9"
    assert str(alice.where("auth")) == "pjsip.conf:18"
    auth = pjsip.auths["bob"]
    assert (auth.auth_type, auth.username, auth.password) == ("userpass", "bob", "bob102")
    aor = pjsip.aors["alice"]
    assert (aor.max_contacts, aor.minimum_expiration, aor.maximum_expiration) == (1, 60, 7200)
    assert aor.default_expiration == 3600 and aor.remove_existing is False


def test_codec_order_follows_allow_and_disallow_lines():
    text = (
        "[e]\ntype=endpoint\ndisallow=all\nallow=alaw,ulaw:20\nallow=g722\ndisallow=alaw\n"
        "allow=opus\n[f]\ntype=endpoint\nallow=all\ndisallow=gsm\n"
    )
    config, findings = load({"pjsip.conf": text})
    assert findings == []
    assert config.pjsip.endpoints["e"].codecs == ("ulaw", "g722", "opus")
    assert "gsm" not in config.pjsip.endpoints["f"].codecs
    assert config.pjsip.endpoints["f"].codecs[0] == "ulaw"


def test_bad_values_are_errors_at_their_line():
    text = (
        "[e]\ntype=endpoint\nallow=ulaww\ndtmf_mode=rfc2833x\ndirect_media=maybe\n"
        "[a]\ntype=aor\nmax_contacts=-1\n[t]\ntype=transport\nprotocol=sctp\nbind=0.0.0.0:99999\n"
    )
    _, findings = load({"pjsip.conf": text})
    assert findings == [
        "pjsip.conf:3: error: endpoint 'e': allow: unknown codec 'ulaww' (did you mean 'ulaw'?)",
        "pjsip.conf:4: error: endpoint 'e': dtmf_mode: 'rfc2833x' is not one of rfc4733, "
        "inband, info, auto, auto_info",
        "pjsip.conf:5: error: endpoint 'e': direct_media: expected yes or no, found 'maybe'",
        "pjsip.conf:8: error: aor 'a': max_contacts: -1 is below the minimum 0",
        "pjsip.conf:11: error: transport 't': protocol: 'sctp' is not one of udp, tcp, tls, "
        "ws, wss",
        "pjsip.conf:12: error: transport 't': bind: 99999 is above the maximum 65535",
    ]


def test_unknown_option_did_you_mean_and_unsupported_option():
    text = "[e]\ntype=endpoint\nallow=ulaw\nalow=alaw\ncontxt=x\nt38_udptl=yes\nzzz=1\n"
    config, findings = load({"pjsip.conf": text})
    assert findings == [
        "pjsip.conf:4: warning: unknown endpoint option 'alow'; ignored (did you mean 'allow'?)",
        "pjsip.conf:5: warning: unknown endpoint option 'contxt'; ignored "
        "(did you mean 'context'?)",
        "pjsip.conf:6: warning: endpoint option 't38_udptl' is not supported by Switchboard "
        "yet; ignored",
        "pjsip.conf:7: warning: unknown endpoint option 'zzz'; ignored",
    ]
    assert config.pjsip.endpoints["e"].options["alow"].value == "alaw"


def test_unknown_option_in_a_template_is_reported_once():
    text = "[t](!)\ntype=endpoint\nalow=ulaw\n[a](t)\n[b](t)\n"
    _, findings = load({"pjsip.conf": text})
    assert findings == [
        "pjsip.conf:3: warning: unknown endpoint option 'alow'; ignored (did you mean 'allow'?)"
    ]


def test_types_missing_unknown_unsupported_and_duplicates():
    text = (
        "[a]\nfoo=1\n[b]\ntype=endpiont\n[c]\ntype=phoneprov\n"
        "[d]\ntype=aor\n[d]\ntype=aor\n[g]\ntype=global\n[h]\ntype=global\n"
    )
    config, findings = load({"pjsip.conf": text})
    assert findings == [
        "pjsip.conf:1: warning: section [a] has no type= and is ignored, as Asterisk does "
        "(add type=endpoint, auth, aor, transport, ... or mark it a template with (!))",
        "pjsip.conf:4: error: [b] has unknown type 'endpiont' (did you mean 'endpoint'?)",
        "pjsip.conf:5: warning: pjsip object type 'phoneprov' is not supported by Switchboard "
        "yet; [c] is ignored",
        "pjsip.conf:9: error: aor 'd' is defined twice (first at pjsip.conf:7) "
        "(give each object of one type a distinct name)",
        "pjsip.conf:13: error: a second type=global section [h] (the first is at "
        "pjsip.conf:11) (pjsip.conf has one global section; merge them)",
    ]
    assert config.pjsip.global_ is not None and config.pjsip.global_.name == "g"


def test_transport_binds_and_default_ports():
    text = (
        "[u]\ntype=transport\nprotocol=udp\nbind=[::]\n"
        "[t]\ntype=transport\nprotocol=tls\nbind=127.0.0.1\nmethod=tlsv1_2\n"
        "local_net=10.0.0.0/8\nlocal_net=192.168.0.0/255.255.0.0\n"
        "[w]\ntype=transport\nprotocol=tcp\nbind=[::1]:5070\n"
    )
    config, findings = load({"pjsip.conf": text})
    assert findings == []
    transports = config.pjsip.transports
    assert (transports["u"].bind.host, transports["u"].port) == ("::", 5060)
    assert transports["t"].port == 5061 and transports["t"].encrypted
    assert transports["t"].local_net == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.0.0/16"),
    )
    assert (str(transports["w"].bind), transports["w"].port) == ("[::1]:5070", 5070)


def test_acl_rules_keep_order_and_negation():
    text = (
        "[e]\ntype=endpoint\ndeny=0.0.0.0/0\npermit=192.0.2.0/24, !192.0.2.99/32\n"
        'callerid="Alice Martin" <101>\n'
    )
    config, findings = load({"pjsip.conf": text})
    assert findings == []
    ep = config.pjsip.endpoints["e"]
    assert [(a, str(n)) for a, n in ep.ip_rules] == [
        ("deny", "0.0.0.0/0"),
        ("permit", "192.0.2.0/24"),
        ("deny", "192.0.2.99/32"),
    ]
    assert ep.callerid is not None
    assert (ep.callerid.name, ep.callerid.number) == ("Alice Martin", "101")


def test_identify_registration_acl_system():
    text = (
        "[i]\ntype=identify\nendpoint=trunk\nmatch=192.0.2.1\nmatch=198.51.100.0/24\n"
        "[r]\ntype=registration\nserver_uri=sip:sip.example.com\nclient_uri=sip:u@example.com\n"
        "outbound_auth=ra\nexpiration=600\n"
        "[acl]\ntype=acl\ndeny=0.0.0.0/0\npermit=10.0.0.0/8\n"
        "[system]\ntype=system\ntimer_t1=600\n"
    )
    config, findings = load({"pjsip.conf": text})
    assert findings == []
    pjsip = config.pjsip
    assert pjsip.identifies["i"].match == ("192.0.2.1", "198.51.100.0/24")
    assert pjsip.registrations["r"].expiration == 600
    assert pjsip.registrations["r"].outbound_auth == ("ra",)
    assert len(pjsip.acls["acl"].ip_rules) == 2
    assert pjsip.system is not None and pjsip.system.timer_t1 == 600
