"""The RFC 3842 message-summary body: what we write, what we read, and what we refuse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.sip.errors import RemoteProtocolError
from switchboard.sip.message_summary import (
    MESSAGE_CLASSES,
    MessageCounts,
    MessageSummary,
    parse_message_summary,
)

RFC3842_EXAMPLE = (
    b"Messages-Waiting: yes\r\n"
    b"Message-Account: sip:alice@vmail.example.com\r\n"
    b"Voice-Message: 4/8 (1/2)\r\n"
    b"\r\n"
)


def test_voice_summary_is_written_as_asterisk_writes_it():
    body = MessageSummary.voice(2, 8, account="sip:101@192.0.2.1:5060").serialize()
    assert body == (
        b"Messages-Waiting: yes\r\n"
        b"Message-Account: sip:101@192.0.2.1:5060\r\n"
        b"Voice-Message: 2/8 (0/0)\r\n"
    )


def test_no_new_message_means_lamp_off_even_with_old_ones():
    summary = MessageSummary.voice(0, 3)
    assert not summary.waiting
    assert summary.serialize() == b"Messages-Waiting: no\r\nVoice-Message: 0/3 (0/0)\r\n"


def test_rfc3842_example_parses():
    summary = parse_message_summary(RFC3842_EXAMPLE)
    assert summary.waiting
    assert summary.account == "sip:alice@vmail.example.com"
    assert summary.get("Voice-Message") == MessageCounts(4, 8, 1, 2)
    assert summary.get("fax-message") is None
    assert summary.extensions == ()


def test_every_class_and_extension_headers_round_trip():
    counts = tuple((name, MessageCounts(i, i + 1, 0, i)) for i, name in enumerate(MESSAGE_CLASSES))
    summary = MessageSummary(True, "sip:x@y", counts, (("Message-ID", "<a@b>"), ("X-Y", "z")))
    body = summary.serialize()
    assert b"\r\nFax-Message: 1/2 (0/1)\r\n" in body
    assert b"\r\n\r\nMessage-ID: <a@b>\r\nX-Y: z\r\n" in body
    assert parse_message_summary(body) == summary


def test_status_alone_and_urgent_counts_optional():
    assert parse_message_summary(b"Messages-Waiting: no\r\n") == MessageSummary(False)
    summary = parse_message_summary(b"Messages-Waiting: yes\r\nVoice-Message: 3/0\r\n")
    assert summary.get("voice-message") == MessageCounts(3, 0, 0, 0)


def test_tolerances_case_bare_lf_spacing_and_leading_blank_lines():
    body = b"\r\n\nmessages-waiting :YES \nvoice-message:  1 / 2 ( 0 / 1 )\nx-vendor: 7\n"
    summary = parse_message_summary(body)
    assert summary.waiting
    assert summary.get("Voice-Message") == MessageCounts(1, 2, 0, 1)
    assert summary.extensions == (("x-vendor", "7"),), "unknown lines are kept, not refused"


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b"", "empty body"),
        (b"\r\n\r\n", "empty body"),
        (b"Voice-Message: 1/0\r\nMessages-Waiting: yes\r\n", "Messages-Waiting line first"),
        (b"Messages-Waiting: maybe\r\n", "yes or no"),
        (b"Messages-Waiting yes\r\n", "Messages-Waiting line first"),
        (b"Messages-Waiting: yes\r\nMessages-Waiting: no\r\n", "more than one Messages-Waiting"),
        (b"Messages-Waiting: yes\r\nMessage-Account: a\r\nMessage-Account: b\r\n", "Account"),
        (b"Messages-Waiting: yes\r\nMessage-Account:\r\n", "empty Message-Account"),
        (b"Messages-Waiting: yes\r\nVoice-Message: 1/0\r\nvoice-message: 2/0\r\n", "more than"),
        (b"Messages-Waiting: yes\r\nVoice-Message: 1\r\n", "new/old"),
        (b"Messages-Waiting: yes\r\nVoice-Message: -1/0\r\n", "new/old"),
        (b"Messages-Waiting: yes\r\nVoice-Message: 1/0 (1)\r\n", "new/old"),
        (b"Messages-Waiting: yes\r\nVoice-Message: 1234567890/0\r\n", "new/old"),
        (b"Messages-Waiting: yes\r\ngarbage\r\n", "'name: value'"),
        (b"Messages-Waiting: yes\r\n\r\nno colon here\r\n", "'name: value'"),
        (b"Messages-Waiting: \xff\r\n", "not UTF-8"),
    ],
)
def test_malformed_bodies_are_400_saying_what_was_expected(body: bytes, found: str):
    with pytest.raises(RemoteProtocolError) as caught:
        parse_message_summary(body)
    assert caught.value.status == 400
    assert found in caught.value.reason


def test_counts_out_of_range_are_refused_when_building():
    with pytest.raises(ValueError):
        MessageCounts(-1, 0)
    with pytest.raises(ValueError):
        MessageCounts(0, 10**9)


def test_parse_with_trailing_data_after_the_last_line_end():
    """A body cut after the last line still parses; a trailing partial line is a line."""
    whole = MessageSummary.voice(1, 0).serialize()
    assert parse_message_summary(whole.rstrip(b"\r\n")) == parse_message_summary(whole)
    assert parse_message_summary(whole + b"\r\nX: 1").extensions == (("X", "1"),)


_counts = st.builds(
    MessageCounts,
    st.integers(0, 999_999_999),
    st.integers(0, 999_999_999),
    st.integers(0, 999_999_999),
    st.integers(0, 999_999_999),
)
_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12)
_value = st.text(alphabet="abcdefghijklmnopqrstuvwxyz@:.<>;= 0123456789", max_size=20).map(
    str.strip
)


@given(
    waiting=st.booleans(),
    account=st.none() | _value.filter(bool),
    classes=st.lists(st.sampled_from(sorted(MESSAGE_CLASSES)), unique=True),
    counts=st.lists(_counts, min_size=6, max_size=6),
    extensions=st.lists(st.tuples(_token, _value), max_size=3),
)
def test_round_trip(waiting, account, classes, counts, extensions):
    summary = MessageSummary(
        waiting, account, tuple(zip(classes, counts, strict=False)), tuple(extensions)
    )
    assert parse_message_summary(summary.serialize()) == summary


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_400(data: bytes):
    try:
        summary = parse_message_summary(data)
    except RemoteProtocolError as error:
        assert error.status == 400
    else:
        assert parse_message_summary(summary.serialize()) == summary


@given(st.text(alphabet="MmeEsSaAgG-WwiItTnN:yYoO \t\r\n/()0123456789VvcC", max_size=120))
def test_sip_like_text_parses_or_raises_400(text: str):
    try:
        parse_message_summary(text.encode())
    except RemoteProtocolError as error:
        assert error.status == 400
