"""Fuzzing: no input makes the parser raise anything but a SipError."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.mutations import mutations as mutations_of

from switchboard.sip.errors import SipError
from switchboard.sip.framing import SipStreamFramer
from switchboard.sip.message import error_response, parse_datagram, parse_message

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rfc4475"
CORPUS = [path.read_bytes() for path in sorted(FIXTURES.glob("*.dat"))]
SIP_BYTES = b' \t\r\n:;,<>"\\@=%/[].SIPsip0123456789Vvia'


def exercise(data: bytes) -> None:
    """Everything a server does with a received datagram, accessors included."""
    try:
        message = parse_datagram(data)
        for accessor in ("branch", "top_via", "vias", "from_tag", "to_tag", "call_id", "cseq"):
            with contextlib.suppress(SipError):
                getattr(message, accessor)
        message.serialize()
        parse_message(data)
    except SipError as error:
        response = error_response(error)
        if response is not None:
            response.serialize()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    exercise(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list(SIP_BYTES)), max_size=300).map(bytes))
def test_random_sip_alphabet(data: bytes) -> None:
    exercise(b"INVITE sip:a@b SIP/2.0\r\n" + data)
    exercise(b"SIP/2.0 200 OK\r\n" + data)


def mutations() -> st.SearchStrategy[bytes]:
    """Mutations of the corpus, flips favouring the grammar's bytes."""
    return mutations_of(CORPUS, bytes(SIP_BYTES))


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_torture_messages(data: bytes) -> None:
    exercise(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutations(), st.lists(st.integers(1, 64), min_size=1, max_size=40))
def test_mutated_messages_on_a_stream(data: bytes, chunks: list[int]) -> None:
    framer = SipStreamFramer(max_header_size=4096, max_body_size=4096)
    stream = data + data
    position = 0
    for size in chunks * (len(stream) // sum(chunks) + 1):
        framer.feed(stream[position : position + size])
        position += size
        while True:
            try:
                if framer.next_event() is None:
                    break
            except SipError:
                if framer.broken:
                    return
        if position >= len(stream):
            return


NUMBERS = [b"9" * 5000, "\u00b2".encode(), "\u0663".encode(), b"99999", b"-1", b""]


def test_huge_and_non_ascii_numbers_are_sip_errors() -> None:
    template = (
        b"OPTIONS sip:a@b:%(port)s SIP/2.0\r\nVia: SIP/2.0/UDP h:%(port)s;branch=z9hG4bK1\r\n"
        b"From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: %(n)s OPTIONS\r\n"
        b"Max-Forwards: %(n)s\r\nContent-Length: %(n)s\r\n\r\n"
    )
    for port in NUMBERS:
        for n in NUMBERS:
            data = template % {b"port": port, b"n": n}
            exercise(data)
            try:
                message = parse_datagram(data)
                message.max_forwards  # type: ignore[union-attr]  # noqa: B018
                message.uri  # type: ignore[union-attr]  # noqa: B018
            except SipError:
                pass
