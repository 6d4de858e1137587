"""Extension patterns: what they match, how they sort (Asterisk's order), and their errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.dialplan.patterns import PatternError, compile_pattern


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("101", ["101", "1-01"], ["1010", "10", "102"]),
        ("555-1234", ["5551234"], ["555123"]),
        ("_X", ["0", "9"], ["", "a", "10"]),
        ("_Z", ["1", "9"], ["0"]),
        ("_NXX", ["200", "999"], ["199", "20", "2000"]),
        ("_nxx", ["200"], ["100"]),
        ("_[1-3a]X", ["10", "a5", "39"], ["40", "b1"]),
        ("_9.", ["91", "9123456"], ["9", "81"]),
        ("_9!", ["9", "91"], ["8"]),
        ("_1-800-NXX-XXXX", ["18002345678"], ["18001345678"]),
        ("_*X#", ["*5#"], ["*55#"]),
    ],
)
def test_matching(pattern: str, yes: list[str], no: list[str]):
    compiled = compile_pattern(pattern)
    assert all(compiled.matches(n) for n in yes)
    assert not any(compiled.matches(n) for n in no)


def test_order_is_asterisks_most_specific_first():
    texts = ["_X.", "_!", "_1XX", "_NXX", "_[12]XX", "101", "_10X", "_1.", "_XXX"]
    ordered = sorted(texts, key=lambda t: compile_pattern(t).sort_key)
    # Position by position: '_1.' beats '_[12]XX' because its first character is narrower.
    assert ordered == ["101", "_10X", "_1XX", "_1.", "_[12]XX", "_NXX", "_XXX", "_X.", "_!"]


def test_shorter_pattern_sorts_first_when_a_prefix():
    assert compile_pattern("_1X").sort_key < compile_pattern("_1XX").sort_key


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty extension"),
        ("_", "pattern '_' is empty after '_'"),
        ("-", "extension '-' has no digits or letters"),
        ("_1[23", "pattern '_1[23': '[' at position 3 is never closed"),
        ("_1[]", "pattern '_1[]' has an empty set '[]'"),
        ("_[9-1]", "pattern '_[9-1]': range '9-1' runs backwards"),
    ],
)
def test_errors(text: str, message: str):
    with pytest.raises(PatternError) as exc:
        compile_pattern(text)
    assert str(exc.value) == message


def test_characters_after_a_wildcard_are_flagged():
    assert compile_pattern("_9.1").unreachable_tail
    assert compile_pattern("_9.1").matches("95")
    assert not compile_pattern("_9.").unreachable_tail


@given(st.text(max_size=20), st.text(alphabet="0123456789*#", max_size=12))
def test_any_text_compiles_or_raises_pattern_error(text: str, number: str):
    try:
        compiled = compile_pattern(text)
    except PatternError:
        return
    compiled.matches(number)
