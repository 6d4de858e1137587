"""What VoiceMailMain says: the message envelope, folder names, which options apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from switchboard.apps.voicemailmain import (
    DIALABLE,
    Envelope,
    caller_number,
    callerid_prompts,
    duration_prompts,
    envelope_for,
    folder_name,
    message_prompts,
    received_prompts,
)
from switchboard.config.voicemail import Mailbox, VoicemailConfig
from switchboard.diagnostics import Location
from switchboard.services.voicemail.spool import Message, MessageInfo

NOW = datetime(2024, 3, 15, 18, 30, tzinfo=UTC)  # a Friday


def at(days: float = 0, hour: int = 15, minute: int = 5) -> datetime:
    return (NOW - timedelta(days=days)).replace(hour=hour, minute=minute)


def test_today_says_only_the_time_in_english() -> None:
    assert received_prompts(at(0, 15, 5), NOW, "en") == [
        "vm-received", "digits/at", "digits/3", "digits/oh", "digits/5", "digits/p-m",
    ]  # fmt: skip


def test_english_minutes_oclock_and_two_digits_and_the_morning() -> None:
    assert received_prompts(at(0, 0, 0), NOW, "en")[-3:] == [
        "digits/12", "digits/oclock", "digits/a-m",
    ]  # fmt: skip
    assert received_prompts(at(0, 11, 42), NOW, "en")[-4:] == [
        "digits/11", "digits/40", "digits/2", "digits/a-m",
    ]  # fmt: skip


def test_yesterday_and_this_week() -> None:
    assert received_prompts(at(1), NOW, "en")[:2] == ["vm-received", "digits/yesterday"]
    # Three days before Friday: Tuesday (Asterisk counts days from Sunday = 0).
    assert received_prompts(at(3), NOW, "en")[:2] == ["vm-received", "digits/day-2"]


def test_older_dates_in_english() -> None:
    three_weeks = received_prompts(at(21), NOW, "en")  # Friday February 23rd
    assert three_weeks[:5] == [
        "vm-received",
        "digits/day-5",
        "digits/mon-1",
        "digits/20",
        "digits/h-3",
    ]
    two_months = received_prompts(at(60), NOW, "en")  # January 15th
    assert two_months[:3] == ["vm-received", "digits/mon-0", "digits/h-15"]
    last_year = received_prompts(at(300), NOW, "en")  # May 20th 2023
    assert last_year[:7] == [
        "vm-received", "digits/mon-4", "digits/h-20", "digits/2", "digits/thousand",
        "digits/20", "digits/3",
    ]  # fmt: skip


def test_french_says_the_24_hour_time_and_heures() -> None:
    assert received_prompts(at(0, 21, 0), NOW, "fr") == [
        "vm-received", "digits/at", "digits/20", "digits/et", "digits/1F", "digits/oclock",
    ]  # fmt: skip
    assert received_prompts(at(1, 9, 31), NOW, "fr") == [
        "vm-received", "digits/yesterday", "digits/at", "digits/9", "digits/oclock",
        "digits/30", "digits/et", "digits/1",
    ]  # fmt: skip


def test_french_old_dates_say_the_first_of_the_month() -> None:
    said = received_prompts(datetime(2024, 2, 1, 8, 0, tzinfo=UTC), NOW, "fr")
    assert said[:6] == [
        "vm-received",
        "digits/day-4",
        "digits/h-1",
        "digits/mon-1",
        "digits/2",
        "digits/thousand",
    ]


@pytest.mark.parametrize(
    ("callerid", "number"),
    [('"Bob" <102>', "102"), ("<102>", "102"), ("0612345678", "0612345678"), ("Bob", ""), ("", "")],
)
def test_caller_number(callerid: str, number: str) -> None:
    assert caller_number(callerid) == number


def test_callerid_prompts() -> None:
    assert callerid_prompts('"Bob" <102>', "fr") == [
        "vm-from-phonenumber", "digits/1", "digits/0", "digits/2",
    ]  # fmt: skip
    assert callerid_prompts("<bob>", "en") == ["vm-unknown-caller"]
    assert callerid_prompts("<Unknown>", "en") == ["vm-unknown-caller"]


def test_duration_only_from_saydurationm_minutes() -> None:
    assert duration_prompts(119, "en", 2) == []
    assert duration_prompts(185, "en", 2) == ["vm-duration", "digits/3", "vm-minutes"]
    assert duration_prompts(0, "en", 0) == ["vm-duration", "digits/0", "vm-minutes"]


def test_folder_names() -> None:
    assert folder_name("Work", "fr") == ["vm-Work", "vm-messages"]


def mailbox(**options: str) -> Mailbox:
    return Mailbox("default", "101", "1234", "alice", "", "", options, Location("v", 1))


def test_the_mailbox_options_win_over_general() -> None:
    general = VoicemailConfig().general
    assert envelope_for(mailbox(), general) == Envelope(True, False, True, 2)
    general.saycid = True
    chosen = envelope_for(mailbox(envelope="no", saycid="no", saydurationm="5"), general)
    assert chosen == Envelope(False, False, True, 5)
    assert envelope_for(mailbox(saycid="yes"), VoicemailConfig().general).callerid


def test_message_prompts_follow_the_envelope(tmp_path: Path) -> None:
    info = MessageInfo(
        "101", "default", "", "101", "", 1, "PJSIP/bob-1", '"Bob" <102>', "",
        int(NOW.timestamp()) - 60, "", "x", "", 200,
    )  # fmt: skip
    message = Message(0, "INBOX", tmp_path / "msg0000", info)
    said = message_prompts(message, Envelope(True, True, True, 2), NOW.timestamp(), "en")
    assert said[0] == "vm-received"
    assert said[-7:] == [
        "vm-from-phonenumber", "digits/1", "digits/0", "digits/2",
        "vm-duration", "digits/3", "vm-minutes",
    ]  # fmt: skip
    assert message_prompts(message, Envelope(False, False, False), NOW.timestamp(), "en") == []


@pytest.mark.parametrize(
    ("callerid", "dialled"),
    [('"bob" <102>', True), ("<+33123456789>", True), ('"x" <102,other-ctx,1>', False)],
)
def test_a_call_back_dials_only_a_number_from_the_caller_id(callerid: str, dialled: bool) -> None:
    assert bool(DIALABLE.fullmatch(caller_number(callerid))) is dialled
