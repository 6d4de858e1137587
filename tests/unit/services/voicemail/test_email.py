"""The notification email, built as app_voicemail's sendmail writes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from switchboard.config.voicemail import Mailbox, VoicemailGeneral
from switchboard.diagnostics import Location
from switchboard.services.voicemail.email import (
    Attachment,
    EmailError,
    attachment_format,
    build_email,
    duration_text,
    sender_address,
    split_callerid,
    substitute_escapes,
    wants_attachment,
)
from switchboard.services.voicemail.spool import MessageInfo

WHEN = datetime(2024, 3, 5, 14, 7, 9, tzinfo=UTC)


def general(**values: object) -> VoicemailGeneral:
    result = VoicemailGeneral("general", Location("voicemail.conf", 1))
    result.format = ("wav49", "gsm", "wav")
    for key, value in values.items():
        setattr(result, key, value)
    return result


def mailbox(email: str = "alice@example.com", **options: str) -> Mailbox:
    return Mailbox("default", "101", "1234", "Alice Martin", email, "", options, Location("v", 5))


def info(callerid: str = '"Bob" <102>', duration: int = 75, flag: str = "") -> MessageInfo:
    return MessageInfo(
        "101", "default", "", "101", "", 2, "PJSIP/bob-1", callerid, "", 1709647629, "",
        "1709647629-00000001", flag, duration,
    )  # fmt: skip


def test_duration_is_minutes_and_seconds_as_asterisk_prints_it() -> None:
    assert [duration_text(s) for s in (0, 5, 59, 60, 75, 3600, -1)] == [
        "0:00", "0:05", "0:59", "1:00", "1:15", "60:00", "0:00",
    ]  # fmt: skip


def test_escapes() -> None:
    assert substitute_escapes(r"a\nb\tc\\d\re\q") == "a\nb\tc\\d\re\\q"
    assert substitute_escapes("trailing\\") == "trailing\\"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Bob" <102>', ("Bob", "102")),
        ("Bob <102>", ("Bob", "102")),
        ("<102>", ("", "102")),
        ("+33 1 23", ("", "+33 1 23")),
        ("bob", ("bob", "")),
        ("", ("", "")),
    ],
)
def test_split_callerid(text: str, expected: tuple[str, str]) -> None:
    assert split_callerid(text) == expected


def test_defaults_are_asterisks() -> None:
    message = build_email(mailbox(), general(), info(), 0, host="pbx.example", when=WHEN)
    assert str(message["From"]) == "Asterisk PBX <asterisk@pbx.example>"
    assert str(message["To"]) == "Alice Martin <alice@example.com>"
    assert message["Subject"] == "[PBX]: New message 1 in mailbox 101"
    assert message["Date"] == "Tue, 05 Mar 2024 14:07:09 +0000"
    assert message["X-Asterisk-CallerID"] == "102"
    assert message["X-Asterisk-CallerIDName"] == "Bob"
    assert message["Message-ID"] == "<Switchboard-1-1709647629-00000001-101@pbx.example>"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "iso-8859-1"
    assert message.get_content() == (
        "Dear Alice Martin:\n\n\tJust wanted to let you know you were just left a 1:15 long "
        "message (number 1)\nin mailbox 101 from Bob, on Tuesday, March 05, 2024 at "
        "02:07:09 PM so you might\nwant to check it when you get a chance.  Thanks!"
        "\n\n\t\t\t\t--Asterisk\n\n"
    )


def test_pbxskip_and_flag_in_the_default_subject() -> None:
    message = build_email(
        mailbox(), general(pbxskip=True), info(flag="Urgent"), 2, host="h", when=WHEN
    )
    assert message["Subject"] == "New Urgent message 3 in mailbox 101"


def test_templates_and_variables() -> None:
    config = general(
        fromstring="Voicemail of ${VM_NAME}",
        serveremail="vm@pbx.example",
        emailsubject=r"New ${VM_DUR} message ${VM_MSGNUM} from ${VM_CIDNUM:0:2}",
        emailbody=r"${VM_CALLERID}\n${VM_CIDNAME}/${VM_CIDNUM}\t${VM_MAILBOX}@${VM_CONTEXT}"
        r"\n${VM_DATE}|${VM_CATEGORY}|${VM_FLAG}|${UNSET}",
        emaildateformat="%Y-%m-%d %H:%M",
    )
    message = build_email(mailbox(), config, info(), 4, host="h", when=WHEN)
    assert str(message["From"]) == "Voicemail of Alice Martin <vm@pbx.example>"
    assert message["Subject"] == "New 1:15 message 5 from 10"
    assert message.get_content() == (
        '"Bob" <102>\nBob/102\t101@default\n2024-03-05 14:07|no category||\n'
    )


def test_unknown_caller() -> None:
    config = general(emailbody="${VM_CALLERID}|${VM_CIDNAME}|${VM_CIDNUM}")
    message = build_email(mailbox(), config, info(callerid=""), 0, host="h", when=WHEN)
    assert message.get_content() == "an unknown caller|an unknown caller|an unknown caller\n"
    assert "X-Asterisk-CallerID" not in message
    default = build_email(mailbox(), general(), info(callerid=""), 0, host="h", when=WHEN)
    assert "from an unknown caller, on" in default.get_content()


def test_mailbox_options_win_over_general() -> None:
    box = mailbox(
        serveremail="box@example.org", fromstring="Box", emailsubject="S ${VM_MAILBOX}",
        emailbody="B", attach="no", attachfmt="gsm",
    )  # fmt: skip
    config = general(attach=True, attachfmt="wav")
    message = build_email(box, config, info(), 0, host="h", when=WHEN)
    assert str(message["From"]) == "Box <box@example.org>"
    assert message["Subject"] == "S 101"
    assert message.get_content() == "B\n"
    assert not wants_attachment(config, box)
    assert attachment_format(config, box) == "gsm"
    assert wants_attachment(general(), mailbox(attach="yes"))
    assert wants_attachment(general(attach=True), mailbox(attach="maybe"))


def test_attachment_format_falls_back_to_the_first_stored_one() -> None:
    assert attachment_format(general(), mailbox()) == "wav49"
    assert attachment_format(general(attachfmt="ulaw"), mailbox()) == "wav49"
    assert attachment_format(general(attachfmt="wav"), mailbox()) == "wav"


def test_sender_gets_the_host_name_when_bare() -> None:
    assert sender_address(general(), mailbox(), "pbx") == "asterisk@pbx"
    assert sender_address(general(serveremail="vm@x.org"), mailbox(), "pbx") == "vm@x.org"
    assert sender_address(general(serveremail=""), mailbox(), "pbx") == "asterisk@pbx"


@pytest.mark.parametrize(
    ("fmt", "filename", "content_type"),
    [
        ("wav49", "msg0003.WAV", "audio/x-wav"),
        ("gsm", "msg0003.gsm", "audio/x-gsm"),
        ("wav", "msg0003.wav", "audio/x-wav"),
        ("ulaw", "msg0003.ulaw", "audio/x-ulaw"),
    ],
)
def test_attachment(fmt: str, filename: str, content_type: str) -> None:
    data = bytes(range(256)) * 4
    message = build_email(
        mailbox(), general(), info(), 3, host="h", when=WHEN, attachment=Attachment(fmt, data)
    )
    assert message.get_content_type() == "multipart/mixed"
    body = message.get_body(("plain",))
    assert body is not None and "(number 4)" in body.get_content()
    (part,) = message.iter_attachments()
    assert part.get_content_type() == content_type
    assert part.get_filename() == filename
    assert part.get_param("name") == filename
    assert part["Content-Description"] == "Voicemail sound attachment."
    assert part["Content-Transfer-Encoding"] == "base64"
    assert part.get_content() == data


def test_several_addresses_and_odd_names() -> None:
    box = Mailbox(
        "default", "101", "1", 'Zoë "Z" O\'Neil', "a@x.org|b@y.org", "", {}, Location("v", 1)
    )
    message = build_email(
        box, general(), info(callerid='"Évé\r\nX: y" <1>'), 0, host="h", when=WHEN
    )
    to = message["To"].addresses
    assert [a.addr_spec for a in to] == ["a@x.org", "b@y.org"]
    assert to[0].display_name == 'Zoë "Z" O\'Neil'
    raw = message.as_bytes()
    assert raw.isascii()
    assert b"\nX: y" not in raw
    assert message["X-Asterisk-CallerIDName"] == "Évé  X: y"


def test_non_latin1_body_falls_back_to_utf8() -> None:
    message = build_email(
        mailbox(), general(emailbody="Caller ${VM_CIDNAME}"), info(callerid='"日本" <1>'), 0,
        host="h", when=WHEN,
    )  # fmt: skip
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == "Caller 日本\n"
    assert message.as_bytes().isascii()


def test_no_address_is_an_error() -> None:
    with pytest.raises(EmailError, match="no email address"):
        build_email(mailbox(email=""), general(), info(), 0, host="h", when=WHEN)
    with pytest.raises(EmailError, match="expected an email address"):
        build_email(mailbox(email="not an address@@"), general(), info(), 0, host="h", when=WHEN)
