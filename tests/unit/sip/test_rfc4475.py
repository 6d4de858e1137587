"""Every RFC 4475 torture message through the parser: as a datagram, byte by byte on a
stream, and with trailing data. Expectations come from tests/fixtures/rfc4475/expected.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from switchboard.sip.errors import RemoteProtocolError, UnanswerableError
from switchboard.sip.framing import SipStreamFramer
from switchboard.sip.message import (
    SipRequest,
    SipResponse,
    check_max_forwards,
    check_require,
    error_response,
    parse_datagram,
    parse_message,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rfc4475"


def _load_expected() -> dict[str, object]:
    spec = importlib.util.spec_from_file_location("rfc4475_expected", FIXTURES / "expected.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.EXPECTED  # type: ignore[no-any-return]


EXPECTED = _load_expected()
NAMES = sorted(EXPECTED)


def message(name: str) -> bytes:
    return (FIXTURES / f"{name}.dat").read_bytes()


def of(outcome: str) -> list[str]:
    return [name for name in NAMES if EXPECTED[name].outcome == outcome]  # type: ignore[attr-defined]


def test_every_archived_message_has_an_expectation() -> None:
    assert sorted(path.stem for path in FIXTURES.glob("*.dat")) == NAMES
    assert len(NAMES) == 50


def _check_fields(parsed: SipRequest | SipResponse, name: str) -> None:
    expected = EXPECTED[name]
    if expected.response_status is not None:  # type: ignore[attr-defined]
        assert isinstance(parsed, SipResponse)
        assert parsed.status == expected.response_status  # type: ignore[attr-defined]
    else:
        assert isinstance(parsed, SipRequest)
        assert parsed.method == expected.method  # type: ignore[attr-defined]
        assert parsed.uri_text == expected.request_uri  # type: ignore[attr-defined]
        assert parsed.cseq.method == parsed.method
    assert parsed.call_id == expected.call_id  # type: ignore[attr-defined]
    assert parsed.cseq.seq == expected.cseq  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", of("valid") + of("server"))
def test_well_formed_messages_parse_with_the_right_fields(name: str) -> None:
    parsed = parse_message(message(name))
    _check_fields(parsed, name)


@pytest.mark.parametrize("name", of("invalid"))
def test_invalid_requests_are_answered_with_the_rfc_status(name: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message(message(name))
    error = caught.value
    assert not isinstance(error, UnanswerableError)
    assert error.status == EXPECTED[name].status  # type: ignore[attr-defined]
    response = error_response(error, to_tag="x1")
    assert response is not None, "the server must be able to answer this request"
    assert response.status == error.status
    assert parse_datagram(response.serialize()).status == error.status  # type: ignore[union-attr]


@pytest.mark.parametrize("name", of("drop"))
def test_malformed_responses_are_dropped(name: str) -> None:
    with pytest.raises(UnanswerableError) as caught:
        parse_message(message(name))
    assert error_response(caught.value) is None


def test_require_and_proxy_require_get_420_with_unsupported() -> None:
    request = parse_message(message("bext01"))
    assert isinstance(request, SipRequest)
    with pytest.raises(RemoteProtocolError) as caught:
        check_require(request, supported={"replaces", "timer"})
    assert caught.value.status == 420
    assert caught.value.headers == (
        ("Unsupported", "nothingSupportsThis, nothingSupportsThisEither"),
    )
    with pytest.raises(RemoteProtocolError) as caught:
        check_require(request, supported=(), header="Proxy-Require")
    assert caught.value.headers == (
        ("Unsupported", "noProxiesSupportThis, norDoAnyProxiesSupportThis"),
    )
    response = error_response(caught.value, to_tag="t")
    assert response is not None
    assert response.headers.get("Unsupported") == "noProxiesSupportThis, norDoAnyProxiesSupportThis"


def test_max_forwards_zero_is_483_when_forwarding() -> None:
    request = parse_message(message("zeromf"))
    assert isinstance(request, SipRequest)
    assert request.max_forwards == 0
    with pytest.raises(RemoteProtocolError) as caught:
        check_max_forwards(request)
    assert caught.value.status == 483


def test_unknown_schemes_in_header_fields_parse() -> None:
    request = parse_message(message("unksm2"))
    assert request.to.uri == "isbn:2983792873"
    assert request.from_.uri == "http://www.example.com"
    assert [c.uri for c in request.contacts] == ["name:John_Smith"]


# --- the same messages on a stream ------------------------------------------------------
STREAMABLE = [
    name
    for name in of("valid") + of("server")
    if name not in ("inv2543", "dblreq")  # no Content-Length / two messages on a stream
]


def _drain(framer: SipStreamFramer) -> list[object]:
    events: list[object] = []
    while (event := framer.next_event()) is not None:
        events.append(event)
    return events


@pytest.mark.parametrize("name", STREAMABLE)
def test_stream_byte_by_byte_gives_the_same_message(name: str) -> None:
    data = message(name)
    framer = SipStreamFramer()
    events: list[object] = []
    for i in range(len(data)):
        framer.feed(data[i : i + 1])
        events += _drain(framer)
    assert len(events) == 1
    whole = parse_datagram(data)
    got = events[0]
    assert isinstance(got, type(whole))
    assert got.body == whole.body
    assert got.serialize() == whole.serialize()
    assert framer.buffered == 0


@pytest.mark.parametrize("name", STREAMABLE)
def test_trailing_data_is_left_for_the_next_message(name: str) -> None:
    data = message(name)
    datagram = parse_datagram(data + b"INVITE junk that is ignored")
    assert datagram.body == parse_datagram(data).body
    framer = SipStreamFramer()
    framer.feed(data + data[:10])
    events = _drain(framer)
    assert len(events) == 1
    assert framer.buffered == 10


def test_dblreq_on_a_stream_is_two_messages() -> None:
    framer = SipStreamFramer()
    framer.feed(message("dblreq"))
    first = framer.next_event()
    assert isinstance(first, SipRequest) and first.method == "REGISTER"
    second = framer.next_event()
    assert isinstance(second, SipRequest) and second.method == "INVITE"
    assert len(second.body) == 150
    # The archived INVITE carries 155 body octets for its Content-Length of 150: on a
    # stream the 5 left over ("C" CRLF CRLF) are a header block without Content-Length.
    with pytest.raises(RemoteProtocolError):
        framer.next_event()
    assert framer.broken


def test_stream_waits_when_content_length_exceeds_the_data() -> None:
    framer = SipStreamFramer()
    framer.feed(message("clerr"))
    assert framer.next_event() is None
    assert not framer.broken


@pytest.mark.parametrize("name", ["ncl", "mcl01"])
def test_stream_framing_errors_break_the_connection(name: str) -> None:
    framer = SipStreamFramer()
    framer.feed(message(name))
    with pytest.raises(RemoteProtocolError) as caught:
        framer.next_event()
    assert caught.value.status == 400
    assert framer.broken
    assert error_response(caught.value) is not None
    with pytest.raises(RemoteProtocolError):
        framer.next_event()
