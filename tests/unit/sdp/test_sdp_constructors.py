"""The model's hand-written constructors (plain ``__init__`` methods that mypyc compiles, where
the dataclass's own stays interpreted) set every field, in the dataclass's order, with its
defaults, and keep the objects frozen: what the generated ``__init__`` did."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.constructors import check_constructor

from switchboard.sdp.crypto import SrtpParameters
from switchboard.sdp.model import (
    Attribute,
    Bandwidth,
    Connection,
    Crypto,
    Direction,
    KeyParam,
    Media,
    Origin,
    Rtcp,
    RtpMap,
    SessionDescription,
    Timing,
)
from switchboard.sdp.negotiate import LocalMedia, NegotiatedCodec, NegotiatedStream

KEY = KeyParam(key_method="inline", key_info="S0VZ|2^20|1:4")
CRYPTO = Crypto(tag=3, crypto_suite="AES_CM_128_HMAC_SHA1_80", key_params=(KEY,))
CONNECTION = Connection(nettype="IN", addrtype="IP4", connection_address="192.0.2.7")
ATTRIBUTE = Attribute(name="ptime", value="20")
ORIGIN = Origin("alice", "42", 7, "IN", "IP6", "2001:db8::1")
MEDIA = Media("audio", 4002, "RTP/AVP", ("0",), attributes=(ATTRIBUTE,))

CASES: list[tuple[type[Any], dict[str, Any]]] = [
    (Attribute, {"name": "sendonly", "value": None}),
    (
        Origin,
        {
            "username": "bob",
            "sess_id": "17",
            "sess_version": 3,
            "nettype": "IN",
            "addrtype": "IP4",
            "unicast_address": "192.0.2.1",
        },
    ),
    (Connection, {"nettype": "IN", "addrtype": "IP6", "connection_address": "2001:db8::2"}),
    (
        RtpMap,
        {
            "payload_type": 96,
            "encoding_name": "opus",
            "clock_rate": 48000,
            "encoding_parameters": 2,
        },
    ),
    (
        Rtcp,
        {"port": 4003, "nettype": "IN", "addrtype": "IP4", "connection_address": "192.0.2.9"},
    ),
    (KeyParam, {"key_method": "inline", "key_info": "QUJD"}),
    (
        Crypto,
        {
            "tag": 1,
            "crypto_suite": "AEAD_AES_128_GCM",
            "key_params": (KEY,),
            "session_params": ("KDR=1",),
        },
    ),
    (
        Media,
        {
            "media": "video",
            "port": 5004,
            "proto": "RTP/AVPF",
            "formats": ("96", "97"),
            "number_of_ports": 2,
            "information": "camera",
            "connections": (CONNECTION,),
            "bandwidths": (Bandwidth("AS", 512),),
            "key": "prompt",
            "attributes": (ATTRIBUTE,),
        },
    ),
    (
        SessionDescription,
        {
            "origin": ORIGIN,
            "session_name": "talk",
            "version": 1,
            "information": "about",
            "uri": "https://example.com/talk",
            "emails": ("alice@example.com",),
            "phones": ("+1 555 0100",),
            "connection": CONNECTION,
            "bandwidths": (Bandwidth("CT", 128),),
            "timings": (Timing(1, 2),),
            "time_zones": "2882844526 -1h",
            "key": "clear:secret",
            "attributes": (Attribute("recvonly"),),
            "media": (MEDIA,),
        },
    ),
    (
        LocalMedia,
        {
            "address": "203.0.113.1",
            "port": 20000,
            "preferences": ("alaw", "ulaw"),
            "telephone_event": False,
            "ptime": 30,
            "rtcp_mux": True,
            "username": "pbx",
            "session_name": "Calls",
            "protos": ("RTP/SAVP",),
            "crypto": (CRYPTO,),
        },
    ),
    (
        NegotiatedStream,
        {
            "index": 1,
            "media": "audio",
            "proto": "RTP/SAVP",
            "local_port": 20000,
            "remote_address": "192.0.2.50",
            "remote_port": 4000,
            "remote_rtcp_port": 4001,
            "rtcp_mux": True,
            "codecs": (NegotiatedCodec(8, 8, "PCMA", 8000, 1, "alaw"),),
            "telephone_event": 101,
            "ptime": 20.0,
            "direction": Direction.SENDONLY,
            "remote_crypto": (CRYPTO,),
            "srtp": SrtpParameters("AES_CM_128_HMAC_SHA1_80", b"L" * 30, b"R" * 30, 4),
        },
    ),
    (
        SrtpParameters,
        {"suite": "AEAD_AES_256_GCM", "local_key": b"l", "remote_key": b"r", "remote_mki": 4},
    ),
]


@pytest.mark.parametrize(("cls", "values"), CASES, ids=[cls.__name__ for cls, _ in CASES])
def test_constructor_sets_every_field_keeps_defaults_and_stays_frozen(
    cls: type[Any], values: dict[str, Any]
) -> None:
    check_constructor(cls, values)


def test_each_description_gets_its_own_views() -> None:
    again = Media("audio", 4002, "RTP/AVP", ("0",), attributes=(ATTRIBUTE,))
    assert again == MEDIA and again.views is not MEDIA.views
    assert again.ptime == 20.0 and again.views.ptime_read
    session = SessionDescription(ORIGIN, attributes=(Attribute("inactive"),))
    assert session.direction is Direction.INACTIVE
    assert SessionDescription(ORIGIN).views is not session.views
