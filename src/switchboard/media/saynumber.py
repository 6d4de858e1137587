"""Numbers and message counts as sequences of Asterisk prompt names (pure: no I/O).

:func:`say_number` gives the files ``ast_say_number_full`` of Asterisk's ``main/say.c``
plays, for the syntaxes it has for English and French; :func:`you_have_messages` the files
``vm_intro`` of ``apps/app_voicemail.c`` plays after a login ("you have 1 new message").
The names carry no extension and no language: the player looks them up in the caller's
language folder (``<sounds>/fr/digits/20.gsm``), as Asterisk's ``ast_streamfile`` does.

Syntax is chosen from the language's first letters, as in Asterisk: ``en_GB*`` British
English (``and`` after hundreds), ``fr*`` French, anything else American English (Asterisk's
default when it has no syntax for a language).

English (``ast_say_number_full_en``): 0 is ``digits/0``; 1-19 one file each; 20-99 the tens
then the unit (``digits/40 digits/2``); hundreds are ``digits/N digits/hundred``, then the
rest; thousands and millions say their multiple first, recursively
(``digits/2 digits/thousand``). Negative numbers start with ``digits/minus``.

French (``ast_say_number_full_fr``): 1-20 one file each (``digits/1F`` for "une" with the
``f`` option); 21-69 the tens, ``digits/et`` before a unit of 1 ("vingt-et-un"), then the
unit; 70-79 are ``digits/60`` + 10-19 ("soixante-et-onze" is ``digits/60 digits/et
digits/11``); 80-99 are ``digits/80`` + 0-19 ("quatre-vingt-un" has no "et"); 100-199 start
with ``digits/hundred`` alone ("cent", not "un cent"); 200-999 ``digits/N digits/hundred``
(Asterisk plays the same "cent" file for "deux cents": it has no plural file); 1000-1999
start with ``digits/thousand`` alone ("mille"), higher thousands and millions say their
multiple first.
"""

from __future__ import annotations

from collections.abc import Callable

from switchboard.media.errors import MediaError

MAX_NUMBER = 999_999_999
"""Asterisk's limit: larger numbers are "too big for me" and say nothing."""


class NumberTooBigError(MediaError, ValueError):
    """A number outside what Asterisk's say functions can say."""


def say_number(n: int, language: str, options: str = "") -> list[str]:
    """The prompt names (``digits/...``) that say ``n`` in ``language``.

    ``options`` is ``ast_say_number``'s: ``f`` asks French for the feminine "une"
    (``digits/1F``). Numbers beyond :data:`MAX_NUMBER` (either sign) raise
    :class:`NumberTooBigError`.
    """
    if n == 0:
        return ["digits/0"]  # ast_say_digits_full(0)
    say = _syntax(language)
    files: list[str] = []
    if n < 0:
        files.append("digits/minus")
        n = -n
    if n > MAX_NUMBER:
        raise NumberTooBigError(
            f"cannot say {n}: expected at most {MAX_NUMBER:,} (Asterisk's limit)"
        )
    return files + say(n, options.lower().startswith("f"))


def _syntax(language: str) -> Callable[[int, bool], list[str]]:
    lowered = language.lower()
    if lowered.startswith("en_gb"):
        return _en_gb
    if lowered.startswith("fr"):
        return _fr
    return _en


def _en(n: int, feminine: bool = False) -> list[str]:
    if n < 20:
        return [f"digits/{n}"] if n else []
    if n < 100:
        return [f"digits/{n // 10 * 10}", *_en(n % 10)]
    if n < 1000:
        return [f"digits/{n // 100}", "digits/hundred", *_en(n % 100)]
    if n < 1_000_000:
        return [*_en(n // 1000), "digits/thousand", *_en(n % 1000)]
    return [*_en(n // 1_000_000), "digits/million", *_en(n % 1_000_000)]


def _en_gb(n: int, feminine: bool = False) -> list[str]:
    if n < 100:
        return _en(n)
    if n < 1000:
        rest = n % 100
        tail = ["digits/and", *_en(rest)] if rest else []
        return [f"digits/{n // 100}", "digits/hundred", *tail]
    big, word = (1_000_000, "digits/million") if n >= 1_000_000 else (1000, "digits/thousand")
    rest = n % big
    files = [*_en_gb(n // big), word]
    if 0 < rest < 100:
        files.append("digits/and")
    return files + _en_gb(rest)


def _fr(n: int, feminine: bool = False) -> list[str]:
    if n == 0:
        return []
    if n == 1:
        return ["digits/1F" if feminine else "digits/1"]
    if n < 21:
        return [f"digits/{n}"]
    if n < 70:
        et = ["digits/et"] if n % 10 == 1 else []
        return [f"digits/{n // 10 * 10}", *et, *_fr(n % 10, feminine)]
    if n < 80:
        et = ["digits/et"] if n % 10 == 1 else []
        return ["digits/60", *et, *_fr(n - 60, feminine)]
    if n < 100:
        return ["digits/80", *_fr(n - 80, feminine)]
    if n < 200:
        return ["digits/hundred", *_fr(n - 100, feminine)]
    if n < 1000:
        return [f"digits/{n // 100}", "digits/hundred", *_fr(n % 100, feminine)]
    if n < 2000:
        return ["digits/thousand", *_fr(n - 1000, feminine)]
    if n < 1_000_000:
        return [*_fr(n // 1000, feminine), "digits/thousand", *_fr(n % 1000, feminine)]
    return [*_fr(n // 1_000_000, feminine), "digits/million", *_fr(n % 1_000_000, feminine)]


def you_have_messages(new: int, old: int, language: str, *, urgent: int = 0) -> list[str]:
    """The prompt names ``vm_intro`` plays for a mailbox holding ``new``, ``old`` and
    ``urgent`` messages, in ``language``.

    English (``vm_intro_en``, Asterisk's default for languages without a syntax of their
    own): "you have" [N "urgent" ("and" | "message(s)")] [N "new" ("and" | "message(s)")]
    [N "old" "message(s)"], or "you have no messages". The singular ``vm-message`` is for
    a count of exactly 1.

    French (``vm_intro_fr``): the same order with the French recordings ("vous avez un
    nouveau message"); urgent messages are not announced (Asterisk's French intro has no
    urgent part), but they do keep it from saying "no messages".
    """
    if new < 0 or old < 0 or urgent < 0:
        raise ValueError(f"message counts must be 0 or more, got new={new} old={old}")
    french = language.lower().startswith("fr")
    files = ["vm-youhave"]
    groups = [(new, "vm-INBOX"), (old, "vm-Old")]
    if not french:
        groups.insert(0, (urgent, "vm-Urgent"))
    counted = [(count, folder) for count, folder in groups if count]
    for index, (count, folder) in enumerate(counted):
        files += say_number(count, language)
        files.append(folder)
        if index + 1 < len(counted):
            files.append("vm-and")
        else:
            files.append("vm-message" if count == 1 else "vm-messages")
    if not (new or old or urgent):
        files += ["vm-no", "vm-messages"]
    return files


_DIGIT_NAMES = {"*": "digits/star", "#": "digits/pound"}


def say_digits(text: str, language: str = "en") -> list[str]:
    """Each character of ``text`` as a digit prompt (``ast_say_digit_str``): 101 is
    ``digits/1 digits/0 digits/1``; other characters are skipped."""
    del language  # the digit prompts are the same files in every language
    return [
        f"digits/{char}" if char.isdigit() else _DIGIT_NAMES[char]
        for char in text
        if char.isdigit() or char in _DIGIT_NAMES
    ]
