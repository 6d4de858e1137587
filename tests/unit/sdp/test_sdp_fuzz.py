"""Fuzzing: no input makes the SDP parser or the answerer raise anything but an SdpError."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.mutations import mutations as mutations_of

from switchboard.sdp.errors import SdpError
from switchboard.sdp.model import (
    RTP_PROTOS,
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    Media,
    Origin,
    Repeat,
    SessionDescription,
    Timing,
)
from switchboard.sdp.negotiate import (
    LocalMedia,
    OfferAnswer,
    make_answer,
    make_origin,
    offer_holds,
)
from switchboard.sdp.parse import parse_sdp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sdp"
CORPUS = [path.read_bytes() for path in sorted(FIXTURES.glob("*.sdp"))]
SDP_BYTES = b" \t\r\n:;/=.-vosicbtmaIN IP4 IP6 RTP/AVP 0123456789 rtpmap fmtp sendonly"
LOCAL = LocalMedia(
    "192.0.2.1",
    4000,
    ("opus", "g722", "alaw", "ulaw", "g729"),
    rtcp_mux=True,
    protos=("RTP/AVP", "RTP/AVPF", "RTP/SAVP", "UDP/TLS/RTP/SAVPF"),
)


def exercise(data: bytes) -> None:
    """What the server does with an offer: parse, answer, serialize."""
    try:
        description = parse_sdp(data)
        assert parse_sdp(description.serialize()) == description
        make_answer(description, LOCAL, make_origin(LOCAL, "1", 1)).serialize()
        negotiator = OfferAnswer(LOCAL, "1", 1)
        negotiator.receive_offer(description)
        negotiator.answer().serialize()
        _ = negotiator.hold_state, offer_holds(description)
    except SdpError as error:
        assert error.reason and error.status in (400, 488)
        assert len(error.reason) <= 160
        assert not any(c in error.reason for c in "\r\n\0")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    exercise(data)
    exercise(b"v=0\r\n" + data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(SDP_BYTES)), max_size=300).map(bytes))
def test_random_sdp_alphabet(data: bytes) -> None:
    exercise(b"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\nc=IN IP4 192.0.2.9\r\n" + data)


def mutations() -> st.SearchStrategy[bytes]:
    """Mutations of the corpus, flips favouring the grammar's bytes."""
    return mutations_of(CORPUS, bytes(SDP_BYTES))


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_phone_bodies(data: bytes) -> None:
    exercise(data)


# --- generated descriptions: serialize, parse back, get the same model --------------------
TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~",
    min_size=1,
    max_size=12,
)
TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=30,
)
ADDRESSES = st.one_of(
    st.ip_addresses(v=4).map(lambda a: ("IP4", str(a))),
    st.ip_addresses(v=6).map(lambda a: ("IP6", str(a))),
)
CONNECTIONS = ADDRESSES.map(lambda a: Connection("IN", a[0], a[1]))
ATTRIBUTES = st.builds(
    Attribute,
    TOKEN.map(lambda name: "x-" + name),
    st.none() | TEXT.filter(lambda value: not value.startswith(" ")) | st.just(""),
)
DIRECTION = st.none() | st.sampled_from([Attribute(d.value) for d in Direction])


@st.composite
def media_descriptions(draw: st.DrawFn) -> Media:
    proto = draw(st.sampled_from(sorted(RTP_PROTOS)) | st.just("udptl") | st.just("UDP"))
    port = draw(st.integers(0, 65535))
    if proto in RTP_PROTOS:
        formats = draw(st.lists(st.integers(0, 127).map(str), min_size=1, max_size=6))
    else:
        formats = draw(st.lists(TOKEN, min_size=1, max_size=3))
    direction = draw(DIRECTION)
    attributes = draw(st.lists(ATTRIBUTES, max_size=4)) + ([direction] if direction else [])
    return Media(
        draw(st.sampled_from(["audio", "video", "text", "application", "image"])),
        port,
        proto,
        tuple(formats),
        number_of_ports=draw(st.none() | st.integers(1, 4)),
        information=draw(st.none() | TEXT),
        connections=tuple(draw(st.lists(CONNECTIONS, max_size=2))),
        bandwidths=tuple(
            draw(st.lists(st.builds(Bandwidth, TOKEN, st.integers(0, 10**9)), max_size=2))
        ),
        key=draw(st.none() | TEXT),
        attributes=tuple(attributes),
    )


@st.composite
def descriptions(draw: st.DrawFn) -> SessionDescription:
    addrtype, address = draw(ADDRESSES)
    timings = draw(
        st.lists(
            st.builds(
                Timing,
                st.integers(0, 2**32),
                st.integers(0, 2**32),
                st.lists(
                    st.builds(
                        Repeat, TOKEN, TOKEN, st.lists(TOKEN, min_size=1, max_size=3).map(tuple)
                    ),
                    max_size=2,
                ).map(tuple),
            ),
            min_size=1,
            max_size=2,
        )
    )
    return SessionDescription(
        origin=Origin(
            draw(TOKEN),
            draw(st.integers(0, 2**63).map(str)),
            draw(st.integers(0, 2**63)),
            "IN",
            addrtype,
            address,
        ),
        session_name=draw(TEXT),
        information=draw(st.none() | TEXT),
        uri=draw(st.none() | TEXT),
        emails=tuple(draw(st.lists(TEXT, max_size=2))),
        phones=tuple(draw(st.lists(TEXT, max_size=2))),
        connection=draw(CONNECTIONS),
        bandwidths=tuple(
            draw(st.lists(st.builds(Bandwidth, TOKEN, st.integers(0, 10**9)), max_size=2))
        ),
        timings=tuple(timings),
        time_zones=draw(st.none() | TEXT),
        key=draw(st.none() | TEXT),
        attributes=tuple(draw(st.lists(ATTRIBUTES, max_size=3))),
        media=tuple(draw(st.lists(media_descriptions(), max_size=3))),
    )


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(descriptions())
def test_generated_descriptions_round_trip(description: SessionDescription) -> None:
    body = description.serialize()
    assert parse_sdp(body) == description
    assert parse_sdp(body.replace(b"\r\n", b"\n")).serialize() == body
