"""Extension patterns (``_NXX``, ``_X.``, ``[1-5]``, ``!``) and Asterisk's ordering of them.

An extension that does not start with ``_`` is literal; dashes are ignored in both forms, as
Asterisk does (``555-1234`` equals ``5551234``). In a pattern, ``X`` is 0-9, ``Z`` 1-9, ``N``
2-9 (any case), ``[...]`` a set with ranges, ``.`` one or more of anything and ``!`` zero or
more. When several extensions match a number, Asterisk takes the most specific one: literal
before pattern, then position by position the smaller character class; :attr:`sort_key`
reproduces that order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CLASSES = {"X": "0123456789", "Z": "123456789", "N": "23456789"}
_WILD_ONE_OR_MORE = 0x18000
_WILD_ZERO_OR_MORE = 0x28000


class PatternError(ValueError):
    """An extension pattern that cannot be compiled; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled extension: literal text or a pattern with its matcher and sort key."""

    text: str
    is_pattern: bool
    literal: str
    regex: re.Pattern[str] | None
    sort_key: tuple[int, ...]
    unreachable_tail: bool = False

    def matches(self, number: str) -> bool:
        """True when the dialled number is exactly this extension (dashes ignored)."""
        number = number.replace("-", "")
        if self.regex is None:
            return number == self.literal
        return self.regex.fullmatch(number) is not None


def compile_pattern(text: str) -> Pattern:
    """Compile an extension as written in extensions.conf; PatternError if malformed."""
    if not text:
        raise PatternError("empty extension")
    if not text.startswith("_"):
        literal = text.replace("-", "")
        if not literal:
            raise PatternError(f"extension {text!r} has no digits or letters")
        return Pattern(text, False, literal, None, (0, *(0x0100 | ord(c) for c in literal)))
    body = text[1:]
    if not body.replace("-", ""):
        raise PatternError(f"pattern {text!r} is empty after '_'")
    regex_parts: list[str] = []
    weights: list[int] = [1]
    i = 0
    n = len(body)
    unreachable = False  # Asterisk stops matching at a wildcard: anything after it is ignored
    while i < n:
        c = body[i]
        upper = c.upper()
        if c == "-":
            i += 1
            continue
        if upper in _CLASSES:
            chars = _CLASSES[upper]
            regex_parts.append(f"[{chars}]")
            weights.append((len(chars) << 8) | ord(chars[0]))
        elif c == "[":
            close = body.find("]", i + 1)
            if close == -1:
                raise PatternError(f"pattern {text!r}: '[' at position {i + 2} is never closed")
            chars = _expand_set(body[i + 1 : close], text)
            regex_parts.append("[" + re.escape(chars) + "]")
            weights.append((len(chars) << 8) | ord(min(chars)))
            i = close
        elif c in ".!":
            regex_parts.append(".+" if c == "." else ".*")
            weights.append((_WILD_ONE_OR_MORE if c == "." else _WILD_ZERO_OR_MORE) | ord(c))
            unreachable = bool(body[i + 1 :].replace("-", ""))
            break
        else:
            regex_parts.append(re.escape(c))
            weights.append(0x0100 | ord(c))
        i += 1
    return Pattern(
        text,
        True,
        "",
        re.compile("".join(regex_parts), re.DOTALL),
        tuple(weights),
        unreachable,
    )


def _expand_set(inner: str, text: str) -> str:
    """The characters of a ``[...]`` set, ranges expanded, sorted and without repeats."""
    if not inner:
        raise PatternError(f"pattern {text!r} has an empty set '[]'")
    chars: set[str] = set()
    i = 0
    while i < len(inner):
        if i + 2 < len(inner) and inner[i + 1] == "-":
            low, high = inner[i], inner[i + 2]
            if low > high:
                raise PatternError(f"pattern {text!r}: range '{low}-{high}' runs backwards")
            chars.update(chr(o) for o in range(ord(low), ord(high) + 1))
            i += 3
        else:
            chars.add(inner[i])
            i += 1
    return "".join(sorted(chars))
