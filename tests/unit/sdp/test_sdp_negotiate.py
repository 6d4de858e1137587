"""RFC 3264 offer/answer: every (state, input) pair, answers to real phones' offers, hold."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest

from switchboard.sdp.codecs import CODECS, Codec
from switchboard.sdp.errors import (
    GlareError,
    LocalOfferAnswerError,
    NotAcceptableError,
    OfferAnswerError,
    SdpError,
)
from switchboard.sdp.model import (
    Attribute,
    Bandwidth,
    Connection,
    Direction,
    Media,
    SessionDescription,
)
from switchboard.sdp.negotiate import (
    HoldState,
    Input,
    LocalMedia,
    NegotiatedCodec,
    NegotiatedStream,
    OfferAnswer,
    State,
    _offered_codecs,
    _reaimed,
    _transitions,
    effective_direction,
    hold_state,
    make_answer,
    make_offer,
    make_origin,
    negotiate_streams,
    offer_holds,
    shared_codec,
)
from switchboard.sdp.parse import parse_sdp

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sdp"
PBX = LocalMedia("203.0.113.1", 20000, ("ulaw", "alaw"))
PHONE = LocalMedia("192.0.2.50", 4000, ("alaw", "g722", "ulaw"), username="phone")


def fixture(name: str) -> SessionDescription:
    return parse_sdp((FIXTURES / f"{name}.sdp").read_bytes())


def answer_to(offer: SessionDescription, local: LocalMedia = PBX, **kw: object) -> bytes:
    origin = make_origin(local, "77", 1)
    return make_answer(offer, local, origin, **kw).serialize()  # type: ignore[arg-type]


def media_lines(body: bytes) -> list[str]:
    text = body.decode()
    return text[text.index("m=") :].splitlines()


def body(*lines: str) -> SessionDescription:
    head = ["v=0", "o=- 1 1 IN IP4 192.0.2.9", "s=-", "c=IN IP4 192.0.2.9", "t=0 0"]
    return parse_sdp("\r\n".join(head + list(lines)) + "\r\n")


# --- the state machine: every (state, input) pair -----------------------------------------
S, In = State, Input
EXPECTED: dict[tuple[State, Input], State | tuple[type[SdpError], int]] = {
    (S.NO_OFFER, In.LOCAL_OFFER): S.OFFER_SENT,
    (S.NO_OFFER, In.REMOTE_OFFER): S.OFFER_RECEIVED,
    (S.NO_OFFER, In.LOCAL_ANSWER): (LocalOfferAnswerError, 500),
    (S.NO_OFFER, In.REMOTE_ANSWER): (OfferAnswerError, 400),
    (S.NO_OFFER, In.ROLLBACK): (LocalOfferAnswerError, 500),
    (S.OFFER_SENT, In.LOCAL_OFFER): (LocalOfferAnswerError, 500),
    (S.OFFER_SENT, In.REMOTE_OFFER): (GlareError, 491),
    (S.OFFER_SENT, In.LOCAL_ANSWER): (LocalOfferAnswerError, 500),
    (S.OFFER_SENT, In.REMOTE_ANSWER): S.STABLE,
    (S.OFFER_SENT, In.ROLLBACK): S.NO_OFFER,
    (S.OFFER_RECEIVED, In.LOCAL_OFFER): (LocalOfferAnswerError, 500),
    (S.OFFER_RECEIVED, In.REMOTE_OFFER): (OfferAnswerError, 500),
    (S.OFFER_RECEIVED, In.LOCAL_ANSWER): S.STABLE,
    (S.OFFER_RECEIVED, In.REMOTE_ANSWER): (OfferAnswerError, 400),
    (S.OFFER_RECEIVED, In.ROLLBACK): S.NO_OFFER,
    (S.STABLE, In.LOCAL_OFFER): S.OFFER_SENT,
    (S.STABLE, In.REMOTE_OFFER): S.OFFER_RECEIVED,
    (S.STABLE, In.LOCAL_ANSWER): (LocalOfferAnswerError, 500),
    (S.STABLE, In.REMOTE_ANSWER): (OfferAnswerError, 400),
    (S.STABLE, In.ROLLBACK): (LocalOfferAnswerError, 500),
}


def negotiator_in(state: State, renegotiating: bool = False) -> OfferAnswer:
    """A negotiator brought to ``state`` by real inputs (after one exchange if asked)."""
    negotiator = OfferAnswer(PBX, "4242", 1)
    if renegotiating or state is S.STABLE:
        negotiator.receive_offer(fixture("asterisk"))
        negotiator.answer()
    if state is S.OFFER_SENT:
        negotiator.offer()
    elif state is S.OFFER_RECEIVED:
        negotiator.receive_offer(fixture("asterisk_hold"))
    assert negotiator.state is state
    return negotiator


def input_for(negotiator: OfferAnswer, event: Input) -> SessionDescription | None:
    """A description that is valid for ``event`` whenever the state allows it."""
    if event is In.LOCAL_OFFER:
        return make_offer(PBX, make_origin(PBX, "4242", 9))
    if event is In.REMOTE_OFFER:
        return fixture("microsip")
    if event is In.LOCAL_ANSWER:
        offer = negotiator.pending_remote or fixture("sipp_uac")
        return make_answer(offer, PBX, make_origin(PBX, "4242", 9))
    if event is In.REMOTE_ANSWER:
        offer = negotiator.pending_local or make_offer(PBX, make_origin(PBX, "1", 1))
        return make_answer(offer, PHONE, make_origin(PHONE, "5", 5))
    return None


def test_table_has_every_pair() -> None:
    assert set(_transitions) == {(state, event) for state in State for event in Input}
    assert set(EXPECTED) == set(_transitions)


PAIRS = [
    (state, event, renegotiating)
    for (state, event) in sorted(EXPECTED, key=str)
    for renegotiating in (False, True)
    if not renegotiating or state in (S.OFFER_SENT, S.OFFER_RECEIVED)
]


@pytest.mark.parametrize(("state", "event", "renegotiating"), PAIRS, ids=str)
def test_every_state_and_input(state: State, event: Input, renegotiating: bool) -> None:
    negotiator = negotiator_in(state, renegotiating)
    before = (negotiator.local, negotiator.remote, negotiator.streams)
    pending = (negotiator.pending_local, negotiator.pending_remote)
    expected = EXPECTED[state, event]
    description = input_for(negotiator, event)
    if isinstance(expected, State):
        negotiator.process(event, description)
        if event is In.ROLLBACK and renegotiating:
            expected = S.STABLE
        assert negotiator.state is expected
        if event is In.ROLLBACK:
            assert (negotiator.local, negotiator.remote, negotiator.streams) == before
            assert negotiator.pending_local is negotiator.pending_remote is None
        if expected is S.STABLE:
            assert negotiator.streams and negotiator.streams[0].codecs
    else:
        error, status = expected
        with pytest.raises(error) as caught:
            negotiator.process(event, description)
        assert type(caught.value) is error
        assert caught.value.status == status
        assert negotiator.state is state
        assert (negotiator.local, negotiator.remote, negotiator.streams) == before
        assert (negotiator.pending_local, negotiator.pending_remote) == pending


def test_error_messages_of_the_machine() -> None:
    negotiator = negotiator_in(S.OFFER_SENT)
    with pytest.raises(GlareError, match=r"offer while our offer is pending \(glare\)"):
        negotiator.receive_offer(fixture("asterisk"))
    negotiator = negotiator_in(S.OFFER_RECEIVED)
    with pytest.raises(OfferAnswerError, match="offer while the previous offer is unanswered"):
        negotiator.receive_offer(fixture("asterisk"))
    with pytest.raises(OfferAnswerError, match="answer without an offer in state offer received"):
        negotiator.receive_answer(fixture("asterisk"))
    with pytest.raises(LocalOfferAnswerError, match="input not allowed in state offer received"):
        negotiator.offer()
    with pytest.raises(LocalOfferAnswerError, match="no offer to answer in state no offer"):
        OfferAnswer(PBX, "1", 1).answer()


# --- a whole call: our offer, the phone's answer, hold and resume ---------------------------
def test_offer_answer_hold_resume() -> None:
    pbx = OfferAnswer(PBX, "1000", 5)
    phone = OfferAnswer(PHONE, "2000", 1)
    offer = pbx.offer()
    assert offer.origin.sess_version == 5
    assert media_lines(offer.serialize()) == [
        "m=audio 20000 RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=sendrecv",
    ]
    phone.receive_offer(parse_sdp(offer.serialize()))
    answer = phone.answer()
    assert answer.media[0].formats == ("8", "0", "101")  # the answerer's order
    pbx.receive_answer(parse_sdp(answer.serialize()))
    assert pbx.state is phone.state is S.STABLE
    (ours,) = pbx.streams
    assert ours.codecs[0].name == "alaw" and ours.telephone_event == 101
    assert (ours.remote_address, ours.remote_port, ours.remote_rtcp_port) == (
        "192.0.2.50",
        4000,
        4001,
    )
    assert ours.local_port == 20000 and ours.direction is Direction.SENDRECV
    assert pbx.hold_state is phone.hold_state is HoldState.ACTIVE
    assert shared_codec(ours, phone.streams[0]) == ours.codecs[0]

    hold = pbx.offer(Direction.SENDONLY)
    assert hold.origin.sess_version == 6
    assert hold.media[0].direction is Direction.SENDONLY
    phone.receive_offer(hold)
    assert offer_holds(hold)
    held = phone.answer()
    assert held.media[0].direction is Direction.RECVONLY
    pbx.receive_answer(held)
    assert pbx.hold_state is HoldState.LOCAL_HOLD
    assert phone.hold_state is HoldState.REMOTE_HOLD

    resume = pbx.offer()
    assert resume.origin.sess_version == 7 and not offer_holds(resume)
    phone.receive_offer(resume)
    pbx.receive_answer(phone.answer())
    assert pbx.hold_state is phone.hold_state is HoldState.ACTIVE
    assert phone.local is not None and phone.local.origin.sess_version == 3


def test_unchanged_reoffer_keeps_the_version_and_a_new_port_bumps_it() -> None:
    negotiator = negotiator_in(S.STABLE)
    assert negotiator.local is not None
    version = negotiator.local.origin.sess_version
    same = negotiator.offer()
    assert same.origin.sess_version == version
    assert same.media == negotiator.local.media
    negotiator.rollback()
    negotiator.local_media = replace(PBX, port=30000, address="203.0.113.2")
    moved = negotiator.offer()
    assert moved.origin.sess_version == version + 1
    assert moved.media[0].port == 30000
    assert moved.connection is not None and moved.connection.address == "203.0.113.2"


def test_reoffer_keeps_rejected_streams() -> None:
    negotiator = OfferAnswer(PBX, "1", 1)
    negotiator.receive_offer(fixture("linphone"))
    negotiator.answer()
    reoffer = negotiator.offer(Direction.INACTIVE)
    audio, video = reoffer.media
    assert audio.direction is Direction.INACTIVE and audio.port == 20000
    assert video.port == 0 and video.formats == ("96", "97")


def test_offers_may_not_remove_m_lines() -> None:
    negotiator = OfferAnswer(PBX, "1", 1)
    negotiator.receive_offer(fixture("linphone"))
    negotiator.answer()
    with pytest.raises(OfferAnswerError, match="offer has 1 m= lines, the session 2") as caught:
        negotiator.receive_offer(fixture("asterisk"))
    assert caught.value.status == 488
    with pytest.raises(LocalOfferAnswerError, match=r"may not remove m= lines"):
        negotiator.send_offer(make_offer(PBX, make_origin(PBX, "1", 2)))


def test_answers_must_fit_the_offer() -> None:
    negotiator = negotiator_in(S.OFFER_SENT)
    with pytest.raises(OfferAnswerError, match="answer has 2 m= lines for an offer of 1"):
        negotiator.receive_answer(fixture("linphone"))
    with pytest.raises(OfferAnswerError, match="answer has m=image for an offered m=audio"):
        negotiator.receive_answer(fixture("t38"))
    assert negotiator.state is S.OFFER_SENT
    negotiator = negotiator_in(S.OFFER_RECEIVED)
    with pytest.raises(LocalOfferAnswerError, match="answer has 2 m= lines"):
        negotiator.send_answer(fixture("linphone"))


def test_unacceptable_offer_leaves_it_pending_until_rollback() -> None:
    negotiator = OfferAnswer(PBX, "1", 1)
    negotiator.receive_offer(fixture("t38"))
    with pytest.raises(NotAcceptableError, match="no audio stream") as caught:
        negotiator.answer()
    assert caught.value.status == 488
    assert negotiator.state is S.OFFER_RECEIVED
    negotiator.rollback()
    assert negotiator.state is S.NO_OFFER and negotiator.hold_state is HoldState.INACTIVE


# --- answers to real phones' offers ---------------------------------------------------------
ANSWERS = [
    (
        "baresip",
        ("ulaw", "alaw"),
        [
            "m=audio 20000 RTP/AVP 0 8 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=ptime:20",
            "a=sendrecv",
        ],
    ),
    (
        "baresip",
        ("opus", "ulaw"),
        [
            "m=audio 20000 RTP/AVP 96 0 101",
            "a=rtpmap:96 opus/48000/2",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:96 stereo=1;sprop-stereo=1",
            "a=fmtp:101 0-15",
            "a=ptime:20",
            "a=sendrecv",
        ],
    ),
    (
        "linphone",
        ("opus", "g722", "ulaw"),
        [
            "m=audio 20000 RTP/AVP 96 0 101 100",
            "a=rtpmap:96 opus/48000/2",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/48000",
            "a=rtpmap:100 telephone-event/8000",
            "a=fmtp:96 useinbandfec=1",
            "a=sendrecv",
            "m=video 0 RTP/AVP 96 97",
        ],
    ),
    (
        "linphone",
        ("g729",),
        [
            "m=audio 20000 RTP/AVP 18 100",
            "a=rtpmap:18 G729/8000",
            "a=rtpmap:100 telephone-event/8000",
            "a=fmtp:18 annexb=yes",
            "a=sendrecv",
            "m=video 0 RTP/AVP 96 97",
        ],
    ),
    (
        "microsip",
        ("g722", "alaw", "ulaw"),
        [
            "m=audio 20000 RTP/AVP 9 8 0 101",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=sendrecv",
        ],
    ),
    (
        "asterisk",
        ("alaw",),
        [
            "m=audio 20000 RTP/AVP 8 101",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=sendrecv",
        ],
    ),
    (
        "asterisk_hold",
        ("ulaw",),
        [
            "m=audio 20000 RTP/AVP 0 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16",
            "a=ptime:20",
            "a=recvonly",
        ],
    ),
    (
        "rfc2543_hold",
        ("g729", "ulaw"),
        [
            "m=audio 20000 RTP/AVP 18 0 101",
            "a=rtpmap:18 G729/8000",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:18 annexb=no",
            "a=fmtp:101 0-15",
            "a=recvonly",
        ],
    ),
    (
        "sipp_uac",
        ("alaw", "ulaw"),
        ["m=audio 20000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=sendrecv"],
    ),
]


@pytest.mark.parametrize(
    ("name", "preferences", "expected"), ANSWERS, ids=[f"{a[0]}-{'-'.join(a[1])}" for a in ANSWERS]
)
def test_answers_to_phones(name: str, preferences: tuple[str, ...], expected: list[str]) -> None:
    local = replace(PBX, preferences=preferences)
    answer = answer_to(fixture(name), local)
    assert media_lines(answer) == expected
    built = make_answer(fixture(name), local, make_origin(local, "77", 1))
    for ours, reparsed in zip(built.media, parse_sdp(answer).media, strict=True):
        assert ours.payload_types == reparsed.payload_types
        assert ours.rtpmaps == reparsed.rtpmaps
        assert ours.direction == reparsed.direction
    assert answer.startswith(
        b"v=0\r\no=- 77 1 IN IP4 203.0.113.1\r\ns=Switchboard\r\nc=IN IP4 203.0.113.1\r\nt=0 0\r\n"
    )
    assert parse_sdp(answer).serialize() == answer


@pytest.mark.parametrize(
    ("name", "preferences", "reason"),
    [
        ("sipp_uac", ("alaw",), "no common codec"),
        ("t38", ("ulaw",), "no audio stream"),
        ("microsip_srtp", ("ulaw",), "unsupported transport RTP/SAVP"),
        ("webrtc", ("ulaw",), "unsupported transport UDP/TLS/RTP/SAVPF"),
    ],
)
def test_unacceptable_offers(name: str, preferences: tuple[str, ...], reason: str) -> None:
    with pytest.raises(NotAcceptableError) as caught:
        answer_to(fixture(name), replace(PBX, preferences=preferences))
    assert caught.value.reason == reason and caught.value.status == 488


def test_webrtc_offer_when_the_transport_is_allowed() -> None:
    local = replace(PBX, preferences=("opus",), rtcp_mux=True, protos=("UDP/TLS/RTP/SAVPF",))
    assert media_lines(answer_to(fixture("webrtc"), local)) == [
        "m=audio 20000 UDP/TLS/RTP/SAVPF 111 110",
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:110 telephone-event/48000",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtcp-mux",
        "a=sendrecv",
    ]


def test_direction_answers() -> None:
    for offered, wish, answered in [
        ("sendrecv", Direction.SENDRECV, "sendrecv"),
        ("sendonly", Direction.SENDRECV, "recvonly"),
        ("recvonly", Direction.SENDRECV, "sendonly"),
        ("inactive", Direction.SENDRECV, "inactive"),
        ("sendrecv", Direction.SENDONLY, "sendonly"),
        ("sendonly", Direction.SENDONLY, "inactive"),
    ]:
        offer = body("m=audio 4000 RTP/AVP 0", f"a={offered}")
        assert media_lines(answer_to(offer, direction=wish))[-1] == f"a={answered}"
    session_level = body("a=sendonly", "m=audio 4000 RTP/AVP 0")
    assert media_lines(answer_to(session_level))[-1] == "a=recvonly"
    assert offer_holds(session_level)
    old_hold = body("m=audio 4000 RTP/AVP 0", "c=IN IP4 0.0.0.0", "a=recvonly")
    assert media_lines(answer_to(old_hold))[-1] == "a=inactive"
    assert offer_holds(old_hold)
    assert offer_holds(fixture("rfc2543_hold"))
    assert not offer_holds(fixture("asterisk"))
    assert not offer_holds(body("m=audio 0 RTP/AVP 0", "a=sendonly"))


def test_streams_accepted_and_rejected() -> None:
    offer = body(
        "m=audio 0 RTP/AVP 0",
        "m=audio 4000 RTP/AVP 101 96 0",
        "a=rtpmap:101 telephone-event/8000",
        "m=audio 4002 RTP/AVP 0",
        "m=audio 0 RTP/AVP",
    )
    lines = media_lines(answer_to(offer, replace(PBX, ptime=30)))
    assert lines == [
        "m=audio 0 RTP/AVP 0",
        "m=audio 20000 RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=ptime:30",
        "a=sendrecv",
        "m=audio 0 RTP/AVP 0",
        "m=audio 0 RTP/AVP",
    ]
    only_events = body("m=audio 4000 RTP/AVP 101", "a=rtpmap:101 telephone-event/8000")
    with pytest.raises(NotAcceptableError, match="no common codec"):
        answer_to(only_events)
    no_dtmf = replace(PBX, telephone_event=False, rtcp_mux=True)
    assert media_lines(answer_to(fixture("asterisk"), no_dtmf))[0] == "m=audio 20000 RTP/AVP 0 8"


# --- offers ---------------------------------------------------------------------------------
def test_make_offer_from_a_preference_list() -> None:
    local = LocalMedia(
        "2001:db8::1",
        5000,
        ("ulaw", "ALAW", "opus", "bogus", "h264", "telephone-event", "g722", "ulaw"),
        ptime=20,
        rtcp_mux=True,
    )
    offer = make_offer(local, make_origin(local, "9", 1), Direction.RECVONLY)
    text = offer.serialize().decode()
    assert "o=- 9 1 IN IP6 2001:db8::1\r\n" in text and "c=IN IP6 2001:db8::1\r\n" in text
    assert media_lines(offer.serialize()) == [
        "m=audio 5000 RTP/AVP 0 8 107 9 101 96",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:107 opus/48000/2",
        "a=fmtp:107 useinbandfec=1",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=rtpmap:96 telephone-event/48000",
        "a=fmtp:96 0-16",
        "a=ptime:20",
        "a=rtcp-mux",
        "a=recvonly",
    ]
    quiet = make_offer(replace(PBX, telephone_event=False), make_origin(PBX, "1", 1))
    assert quiet.media[0].formats == ("0", "8")
    reparsed = parse_sdp(offer.serialize()).media[0]
    assert offer.media[0].payload_types == reparsed.payload_types
    assert offer.media[0].rtpmaps == reparsed.rtpmaps
    assert offer.media[0].direction == reparsed.direction
    with pytest.raises(LocalOfferAnswerError, match="no known audio codec to offer"):
        make_offer(replace(PBX, preferences=("h264", "nothing")), make_origin(PBX, "1", 1))


def test_make_offer_moves_a_clashing_dynamic_payload_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CODECS, "x", Codec("x", "X-CODEC", 8000, dynamic_payload_type=101))
    _offered_codecs.cache_clear()  # the codec table changes under the per-order cache
    try:
        offer = make_offer(replace(PBX, preferences=("x",)), make_origin(PBX, "1", 1))
    finally:
        _offered_codecs.cache_clear()
    assert offer.media[0].formats == ("101", "96")


def test_offers_from_the_same_allow_order_are_alike_but_for_port_and_keys() -> None:
    first = make_offer(PBX, make_origin(PBX, "1", 1))
    second = make_offer(PBX.moved(30000), make_origin(PBX, "1", 1))
    assert second.media[0] == replace(first.media[0], port=30000)
    assert second.media[0].rtpmaps == first.media[0].rtpmaps
    assert second.media[0].rtpmaps is not first.media[0].rtpmaps


def test_moved_local_media_keeps_every_other_field() -> None:
    odd = LocalMedia(
        "192.0.2.9",
        1000,
        ("alaw",),
        telephone_event=False,
        ptime=30,
        rtcp_mux=True,
        username="u",
        session_name="n",
        protos=("RTP/SAVP",),
        crypto=(),
    )
    assert {f.name for f in fields(LocalMedia)} == {
        "address", "port", "preferences", "telephone_event", "ptime", "rtcp_mux",
        "username", "session_name", "protos", "crypto",
    }  # fmt: skip
    assert odd.moved(2000) == replace(odd, port=2000)
    assert odd.moved(2000, "198.51.100.7") == replace(odd, port=2000, address="198.51.100.7")


# --- negotiated streams ---------------------------------------------------------------------
def test_negotiated_streams_from_either_side() -> None:
    offer = fixture("microsip")
    answer = make_answer(offer, PBX, make_origin(PBX, "1", 1))
    (as_answerer,) = negotiate_streams(answer, offer, local_is_offerer=False)
    assert as_answerer.remote_address == "192.168.1.77"
    assert as_answerer.remote_rtcp_port == 4003  # a=rtcp
    assert [c.name for c in as_answerer.codecs] == ["ulaw", "alaw"]
    (as_offerer,) = negotiate_streams(offer, answer, local_is_offerer=True)
    assert as_offerer.remote_address == "203.0.113.1" and as_offerer.remote_port == 20000
    assert as_offerer.local_port == 4002


def test_negotiated_payload_types_may_differ() -> None:
    ours = body("m=audio 4000 RTP/AVP 0 101 13", "a=rtpmap:101 telephone-event/8000", "a=rtcp-mux")
    theirs = body(
        "m=audio 5000 RTP/AVP 0 96 97 98 99 13",
        "a=rtpmap:96 telephone-event/8000",
        "a=fmtp:96 0-15",
        "a=rtpmap:97 PCMU/8000",
        "a=rtpmap:98 opus/48000/2",
        "a=rtcp-mux",
    )
    (stream,) = negotiate_streams(ours, theirs, local_is_offerer=True)
    assert stream.codecs == (
        NegotiatedCodec(0, 0, "PCMU", 8000, 1, "ulaw"),
        NegotiatedCodec(13, 13, "CN", 8000, 1, None),
    )
    assert stream.telephone_event == 96
    assert stream.rtcp_mux and stream.remote_rtcp_port == 5000
    assert negotiate_streams(ours, body("m=audio 0 RTP/AVP 0"), local_is_offerer=True) == ()
    assert negotiate_streams(fixture("t38"), fixture("t38"), local_is_offerer=True) == ()
    nothing = negotiate_streams(ours, body("m=audio 5000 RTP/AVP 8"), local_is_offerer=True)
    assert nothing[0].codecs == () and nothing[0].telephone_event is None


def stream(*codecs: NegotiatedCodec, media: str = "audio") -> NegotiatedStream:
    return NegotiatedStream(
        0, media, "RTP/AVP", 1, "192.0.2.1", 2, 3, False, codecs, None, None, Direction.SENDRECV
    )


ULAW = NegotiatedCodec(0, 0, "PCMU", 8000, 1, "ulaw")
ALAW = NegotiatedCodec(8, 8, "PCMA", 8000, 1, "alaw")
ODD = NegotiatedCodec(96, 96, "X-ODD", 8000, 1, None)


def test_shared_codec_decides_transcoding() -> None:
    assert shared_codec(stream(ULAW), stream(ALAW)) is None
    assert shared_codec(stream(ULAW, ALAW), stream(ALAW)) == ALAW
    assert shared_codec(stream(ODD), stream(replace(ODD, payload_type=97))) == ODD


def test_hold_state_of_streams() -> None:
    assert hold_state([]) is HoldState.INACTIVE
    assert hold_state([stream(media="video")]) is HoldState.INACTIVE
    for direction, state in [
        (Direction.SENDRECV, HoldState.ACTIVE),
        (Direction.SENDONLY, HoldState.LOCAL_HOLD),
        (Direction.RECVONLY, HoldState.REMOTE_HOLD),
        (Direction.INACTIVE, HoldState.INACTIVE),
    ]:
        assert hold_state([stream(media="video"), replace(stream(), direction=direction)]) is state


def test_effective_direction_reads_the_old_hold() -> None:
    old = fixture("rfc2543_hold")
    assert effective_direction(old, old.media[0]) is Direction.SENDONLY
    microsip = fixture("microsip")
    assert effective_direction(microsip, microsip.media[0]) is Direction.SENDRECV
    no_connection = body("m=audio 0 RTP/AVP 0")
    no_connection = replace(no_connection, connection=None)
    assert effective_direction(no_connection, no_connection.media[0]) is Direction.SENDRECV


def test_glare_then_retry() -> None:
    """Both sides re-offer at once: each answers the other 491, rolls back, one retries."""
    pbx = OfferAnswer(PBX, "1", 1)
    phone = OfferAnswer(PHONE, "2", 1)
    phone.receive_offer(pbx.offer())
    pbx.receive_answer(phone.answer())
    ours, theirs = pbx.offer(Direction.SENDONLY), phone.offer(Direction.SENDONLY)
    for side, offer in ((pbx, theirs), (phone, ours)):
        with pytest.raises(GlareError) as caught:
            side.receive_offer(offer)
        assert caught.value.status == 491
    pbx.rollback()
    phone.rollback()
    assert pbx.state is phone.state is S.STABLE
    assert pbx.hold_state is phone.hold_state is HoldState.ACTIVE
    phone.receive_offer(pbx.offer(Direction.SENDONLY))
    pbx.receive_answer(phone.answer())
    assert pbx.hold_state is HoldState.LOCAL_HOLD and phone.hold_state is HoldState.REMOTE_HOLD


def test_offerless_invite_offer_in_the_2xx_answer_in_the_ack() -> None:
    caller = OfferAnswer(PHONE, "2", 1)
    pbx = OfferAnswer(PBX, "1", 1)
    offer = pbx.offer()  # in our 200 OK
    caller.receive_offer(offer)
    pbx.receive_answer(caller.answer())  # in the ACK
    assert [c.name for c in pbx.streams[0].codecs] == ["alaw", "ulaw"]
    assert [c.name for c in caller.streams[0].codecs] == ["alaw", "ulaw"]
    assert pbx.streams[0].remote_port == 4000 and caller.streams[0].remote_port == 20000


def test_dtmf_at_the_clock_rate_of_the_codec_in_use() -> None:
    pbx = OfferAnswer(replace(PBX, preferences=("opus", "ulaw")), "1", 1)
    phone = OfferAnswer(replace(PHONE, preferences=("opus",)), "2", 1)
    phone.receive_offer(pbx.offer())
    answer = phone.answer()
    assert answer.media[0].formats == ("107", "96")  # opus and telephone-event/48000
    pbx.receive_answer(answer)
    assert pbx.streams[0].codecs[0].name == "opus"
    assert pbx.streams[0].telephone_event == phone.streams[0].telephone_event == 96


def test_dtmf_at_8khz_beside_opus_when_the_phone_offers_no_other() -> None:
    # baresip 1.0 offers telephone-event/8000 only, whatever its codecs.
    offer = body(
        "m=audio 4000 RTP/AVP 116 101",
        "a=rtpmap:116 opus/48000/2",
        "a=rtpmap:101 telephone-event/8000",
    )
    local = replace(PBX, preferences=("opus",))
    assert media_lines(answer_to(offer, local))[:3] == [
        "m=audio 20000 RTP/AVP 116 101",
        "a=rtpmap:116 opus/48000/2",
        "a=rtpmap:101 telephone-event/8000",
    ]
    pbx = OfferAnswer(local, "1", 1)
    pbx.receive_offer(offer)
    pbx.answer()
    assert pbx.streams[0].codecs[0].name == "opus" and pbx.streams[0].telephone_event == 101


def test_a_reaimed_stream_keeps_every_line_but_its_port_and_direction() -> None:
    media = Media(
        "audio",
        4000,
        "RTP/AVP",
        ("0", "101"),
        number_of_ports=2,
        information="voice",
        connections=(Connection("IN", "IP4", "192.0.2.1"),),
        bandwidths=(Bandwidth("AS", 64),),
        key="prompt",
        attributes=(
            Attribute("rtpmap", "0 PCMU/8000"),
            Attribute("sendrecv"),
            Attribute("ptime", "20"),
        ),
    )
    moved = _reaimed(media, 5000, Direction.SENDONLY)
    expected = replace(
        media,
        port=5000,
        attributes=(
            Attribute("rtpmap", "0 PCMU/8000"),
            Attribute("ptime", "20"),
            Attribute("sendonly"),
        ),
    )
    assert moved == expected
    assert moved.direction is Direction.SENDONLY
