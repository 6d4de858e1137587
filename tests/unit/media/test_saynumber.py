"""Numbers and message counts as Asterisk's say.c and app_voicemail.c play them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.media.saynumber import (
    MAX_NUMBER,
    NumberTooBigError,
    say_number,
    you_have_messages,
)


def d(*names: object) -> list[str]:
    return [f"digits/{name}" for name in names]


ENGLISH = {
    0: d(0),
    1: d(1),
    7: d(7),
    13: d(13),
    19: d(19),
    20: d(20),
    21: d(20, 1),
    42: d(40, 2),
    70: d(70),
    71: d(70, 1),
    80: d(80),
    99: d(90, 9),
    100: d(1, "hundred"),
    101: d(1, "hundred", 1),
    110: d(1, "hundred", 10),
    115: d(1, "hundred", 15),
    200: d(2, "hundred"),
    342: d(3, "hundred", 40, 2),
    999: d(9, "hundred", 90, 9),
    1000: d(1, "thousand"),
    1001: d(1, "thousand", 1),
    2019: d(2, "thousand", 19),
    12345: d(12, "thousand", 3, "hundred", 40, 5),
    1_000_000: d(1, "million"),
    2_000_300: d(2, "million", 3, "hundred"),
}

FRENCH = {
    0: d(0),
    1: d(1),
    16: d(16),
    20: d(20),
    21: d(20, "et", 1),  # vingt-et-un
    22: d(20, 2),  # vingt-deux
    31: d(30, "et", 1),
    61: d(60, "et", 1),
    69: d(60, 9),
    70: d(60, 10),  # soixante-dix
    71: d(60, "et", 11),  # soixante-et-onze
    75: d(60, 15),
    79: d(60, 19),
    80: d(80),  # quatre-vingts
    81: d(80, 1),  # quatre-vingt-un: no "et"
    90: d(80, 10),  # quatre-vingt-dix
    91: d(80, 11),
    99: d(80, 19),
    100: d("hundred"),  # cent, not "un cent"
    101: d("hundred", 1),
    121: d("hundred", 20, "et", 1),
    180: d("hundred", 80),
    200: d(2, "hundred"),  # deux cents (the one "cent" file)
    201: d(2, "hundred", 1),
    371: d(3, "hundred", 60, "et", 11),
    999: d(9, "hundred", 80, 19),
    1000: d("thousand"),  # mille, not "un mille"
    1001: d("thousand", 1),
    1999: d("thousand", 9, "hundred", 80, 19),
    2000: d(2, "thousand"),
    21000: d(20, "et", 1, "thousand"),
    1_000_000: d(1, "million"),
}


@pytest.mark.parametrize(("number", "files"), sorted(ENGLISH.items()))
def test_english(number: int, files: list[str]) -> None:
    assert say_number(number, "en") == files
    assert say_number(number, "en_US") == files


@pytest.mark.parametrize(("number", "files"), sorted(FRENCH.items()))
def test_french(number: int, files: list[str]) -> None:
    assert say_number(number, "fr") == files
    assert say_number(number, "fr_CA") == files
    assert say_number(number, "FR") == files


def test_french_feminine_one() -> None:
    assert say_number(1, "fr", "f") == d("1F")
    assert say_number(21, "fr", "f") == d(20, "et", "1F")
    assert say_number(1, "fr", "m") == d(1)


@pytest.mark.parametrize(
    ("number", "files"),
    [
        (5, d(5)),
        (100, d(1, "hundred")),
        (105, d(1, "hundred", "and", 5)),
        (342, d(3, "hundred", "and", 40, 2)),
        (1005, d(1, "thousand", "and", 5)),
        (1200, d(1, "thousand", 2, "hundred")),
        (1_000_050, d(1, "million", "and", 50)),
        (2_003_004, d(2, "million", 3, "thousand", "and", 4)),
    ],
)
def test_british(number: int, files: list[str]) -> None:
    assert say_number(number, "en_GB") == files


def test_other_languages_use_english_syntax() -> None:
    assert say_number(71, "xx") == say_number(71, "en") == d(70, 1)
    assert say_number(71, "") == d(70, 1)


def test_negative_numbers_start_with_minus() -> None:
    assert say_number(-21, "en") == d("minus", 20, 1)
    assert say_number(-21, "fr") == d("minus", 20, "et", 1)


def test_limits() -> None:
    assert say_number(MAX_NUMBER, "en")[:3] == d(9, "hundred", 90)
    with pytest.raises(NumberTooBigError, match="at most 999,999,999"):
        say_number(MAX_NUMBER + 1, "en")
    with pytest.raises(NumberTooBigError):
        say_number(-MAX_NUMBER - 1, "fr")


ENGLISH_FILES = {f"digits/{n}" for n in [*range(20), *range(20, 100, 10)]} | set(
    d("hundred", "thousand", "million")
)
FRENCH_FILES = {f"digits/{n}" for n in [*range(21), 30, 40, 50, 60, 80]} | set(
    d("hundred", "thousand", "million", "et")
)


@pytest.mark.parametrize("number", range(1001))
def test_zero_to_a_thousand_use_only_existing_files(number: int) -> None:
    """Every number up to 1000 is said with files that the prompt sets hold, never an empty
    sequence, and "et" only ever between a ten and "un"/"onze"."""
    english = say_number(number, "en")
    french = say_number(number, "fr")
    assert english and set(english) <= ENGLISH_FILES
    assert french and set(french) <= FRENCH_FILES
    for index, name in enumerate(french):
        if name == "digits/et":
            assert french[index - 1] in d(20, 30, 40, 50, 60)
            assert french[index + 1] in d(1, 11)


def _english_value(files: list[str]) -> int:
    """Read an English sequence back into a number (the inverse of ``say_number``)."""
    total, group = 0, 0
    for name in files:
        word = name.removeprefix("digits/")
        if word == "hundred":
            group *= 100
        elif word in ("thousand", "million"):
            total += group * (1000 if word == "thousand" else 1_000_000)
            group = 0
        else:
            group += int(word)
    return total + group


def _french_value(files: list[str]) -> int:
    total, group = 0, 0
    for name in files:
        word = name.removeprefix("digits/")
        if word == "et":
            continue
        if word == "hundred":
            group = max(group, 1) * 100
        elif word == "thousand":
            total += max(group, 1) * 1000
            group = 0
        elif word == "million":
            total += group * 1_000_000
            group = 0
        else:
            group += int(word)
    return total + group


@given(st.integers(min_value=0, max_value=MAX_NUMBER))
def test_sequences_read_back_to_the_number(number: int) -> None:
    assert _english_value(say_number(number, "en")) == number
    assert _french_value(say_number(number, "fr")) == number


YOUHAVE = [
    # (new, old, urgent, English, French)
    (0, 0, 0, ["vm-no", "vm-messages"], ["vm-no", "vm-messages"]),
    (1, 0, 0, [*d(1), "vm-INBOX", "vm-message"], [*d(1), "vm-INBOX", "vm-message"]),
    (3, 0, 0, [*d(3), "vm-INBOX", "vm-messages"], [*d(3), "vm-INBOX", "vm-messages"]),
    (0, 1, 0, [*d(1), "vm-Old", "vm-message"], [*d(1), "vm-Old", "vm-message"]),
    (
        2,
        1,
        0,
        [*d(2), "vm-INBOX", "vm-and", *d(1), "vm-Old", "vm-message"],
        [*d(2), "vm-INBOX", "vm-and", *d(1), "vm-Old", "vm-message"],
    ),
    (
        21,
        71,
        0,
        [*d(20, 1), "vm-INBOX", "vm-and", *d(70, 1), "vm-Old", "vm-messages"],
        [*d(20, "et", 1), "vm-INBOX", "vm-and", *d(60, "et", 11), "vm-Old", "vm-messages"],
    ),
    (0, 0, 1, [*d(1), "vm-Urgent", "vm-message"], []),
    (
        1,
        0,
        2,
        [*d(2), "vm-Urgent", "vm-and", *d(1), "vm-INBOX", "vm-message"],
        [*d(1), "vm-INBOX", "vm-message"],
    ),
]


@pytest.mark.parametrize(("new", "old", "urgent", "english", "french"), YOUHAVE)
def test_you_have_messages(
    new: int, old: int, urgent: int, english: list[str], french: list[str]
) -> None:
    assert you_have_messages(new, old, "en", urgent=urgent) == ["vm-youhave", *english]
    assert you_have_messages(new, old, "fr", urgent=urgent) == ["vm-youhave", *french]


def test_you_have_one_new_message() -> None:
    """The sentence alice hears on the reference deployment (language=fr)."""
    assert you_have_messages(1, 0, "en") == ["vm-youhave", "digits/1", "vm-INBOX", "vm-message"]
    assert you_have_messages(1, 0, "fr") == ["vm-youhave", "digits/1", "vm-INBOX", "vm-message"]


def test_you_have_messages_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        you_have_messages(-1, 0, "en")
