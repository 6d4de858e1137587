"""${...} substitution as pbx_variables.c does it: substrings, nesting, scoping, built-ins."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.dialplan.events import WarningLogged
from switchboard.dialplan.state import ChannelState
from switchboard.dialplan.variables import (
    INT_MAX,
    parse_variable_name,
    retrieve_variable,
    substitute,
    substring,
)


def channel(**fields: object) -> ChannelState:
    base: dict[str, object] = {
        "channel": "PJSIP/bob-00000001",
        "uniqueid": "1700000000.1",
        "context": "from-internal",
        "exten": "5551234",
        "priority": 3,
        "caller_number": "102",
        "caller_name": "Bob",
        "variables": {"X": "abcdef", "N": "X", "EMPTY": "", "NUM": "7", "P": "A"},
        "globals": {"G": "global", "X": "shadowed", "A1": "from-global"},
        "clock": lambda: 1_700_000_000.9,
    }
    base.update(fields)
    return ChannelState(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("offset", "length", "result"),
    [
        (0, INT_MAX, "abcdef"),
        (2, INT_MAX, "cdef"),
        (0, 3, "abc"),
        (2, 2, "cd"),
        (-3, INT_MAX, "def"),
        (-3, 2, "de"),
        (-10, 2, "ab"),
        (1, -1, "bcde"),
        (0, -2, "abcd"),
        (-4, -1, "cde"),
        (2, -4, ""),
        (2, -10, ""),
        (6, 1, ""),
        (10, INT_MAX, ""),
        (0, 0, ""),
        (3, 100, "def"),
    ],
)
def test_substring_is_ast_str_substring(offset: int, length: int, result: str) -> None:
    assert substring("abcdef", offset, length) == result


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("X", ("X", 0, INT_MAX, False, False)),
        ("X:2", ("X", 2, INT_MAX, True, False)),
        ("X:2:3", ("X", 2, 3, True, False)),
        ("X:-2:-1", ("X", -2, -1, True, False)),
        ("X: 2: 3", ("X", 2, 3, True, False)),
        ("X::2", ("X", 0, INT_MAX, True, False)),
        ("X:a", ("X", 0, INT_MAX, True, False)),
        ("X:1:a", ("X", 1, INT_MAX, True, False)),
        ("X:99999999999999", ("X", INT_MAX, INT_MAX, True, False)),
        ("CUT(A,:,1):1", ("CUT(A,:,1)", 1, INT_MAX, True, True)),
        ("LEN(a)", ("LEN(a)", 0, INT_MAX, False, True)),
    ],
)
def test_parse_variable_name(text: str, parsed: tuple[object, ...]) -> None:
    assert parse_variable_name(text) == parsed


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("plain text", "plain text"),
        ("${X}", "abcdef"),
        ("<${X}>", "<abcdef>"),
        ("${X:2}", "cdef"),
        ("${X:-2}", "ef"),
        ("${X:1:3}", "bcd"),
        ("${X:0:-1}", "abcde"),
        ("${X::2}", "abcdef"),
        ("${EXTEN:3}", "1234"),
        ("${EXTEN:-4}", "1234"),
        ("${${N}}", "abcdef"),
        ("${${N}:1:1}", "b"),
        ("${X:${NUM}}", ""),
        ("${X:$[${NUM} - 5]}", "cdef"),
        ("${${P}1}", "from-global"),
        ("${UNSET}", ""),
        ("[${UNSET}]", "[]"),
        ("${EMPTY}", ""),
        ("${G}", "global"),
        ("${x}", ""),
        ("$X", "$X"),
        ("cost $5", "cost $5"),
        ("$", "$"),
        ("$$${X}", "$$abcdef"),
        ("${X}${X}", "abcdefabcdef"),
        ("${X{}}", ""),
        ("${CALLERID(num)}", "102"),
        ("${CALLERID(name)}", "Bob"),
        ("${CALLERID(all)}", '"Bob" <102>'),
        ("${CALLERID(num):1}", "02"),
        ("${LEN(${X})}", "6"),
        ("${LEN()}", "0"),
        ("$[1 + 1]", "2"),
        ("$[${NUM} * 6]", "42"),
        ("$[${X} = abcdef]", "1"),
        ("$[$[1 + 1] * 3]", "6"),
        ("$[${LEN(${X})} > 5]", "1"),
        ('$["${UNSET}" = ""]', "1"),
        ("$[[1] + 1]", "2"),
        ("a$[1]b${X:0:1}c", "a1bac"),
        ("${IF($[${NUM} > 5]?big:small)}", "big"),
        ("${EXTEN}", "5551234"),
        ("${CONTEXT}", "from-internal"),
        ("${PRIORITY}", "3"),
        ("${CHANNEL}", "PJSIP/bob-00000001"),
        ("${UNIQUEID}", "1700000000.1"),
        ("${HANGUPCAUSE}", "0"),
        ("${EPOCH}", "1700000000"),
        ("${STRFTIME(${EPOCH},,%Y-%m-%d %H:%M:%S)}", "2023-11-14 22:13:20"),
        ("${GLOBAL(X)}", "shadowed"),
    ],
)
def test_substitute(text: str, result: str) -> None:
    state = channel()
    assert substitute(state, text) == result
    assert state.events == []


def test_builtins_win_over_channel_variables_which_win_over_globals() -> None:
    state = channel(variables={"EXTEN": "mine", "X": "chan"}, globals={"X": "glob", "Y": "g"})
    assert substitute(state, "${EXTEN} ${X} ${Y}") == "5551234 chan g"
    assert retrieve_variable(state, "NOPE") is None


def test_values_are_not_substituted_again() -> None:
    state = channel(variables={"A": "${B}", "B": "no"})
    assert substitute(state, "${A}") == "${B}"


@pytest.mark.parametrize(
    ("text", "result", "warning"),
    [
        ("${X", "abcdef", "missing '}'"),
        ("$[1 + 1", "2", "missing ']'"),
        ("${NOFUNC(1)}", "", "function NOFUNC not registered"),
        ("${cut(X,c,1)}", "", "function cut not registered"),
        ("$[1 +]", "0", "syntax error"),
        ("$[${UNSET} = ]", "0", "syntax error"),
        ("$[ISNULL(${UNSET})]", "0", "syntax error"),
        ("$[FOO(1)]", "0", "FOO not registered"),
    ],
)
def test_problems_become_warnings(text: str, result: str, warning: str) -> None:
    state = channel()
    state.location = None
    assert substitute(state, text) == result
    assert any(isinstance(e, WarningLogged) and warning in e.message for e in state.events), (
        state.events
    )


def test_expressions_call_dialplan_functions() -> None:
    state = channel()
    assert substitute(state, "$[LEN(abc) + 1]") == "4"
    assert substitute(state, "$[CALLERID(num) + 1]") == "103"
    assert substitute(state, "$[EXISTS(abc)]") == "1"


def test_nesting_deeper_than_the_limit_is_left_empty() -> None:
    state = channel()
    deep = "${" * 100 + "X" + "}" * 100
    assert substitute(state, deep) == ""
    assert "nested deeper" in state.events[0].message


_PIECES = st.sampled_from(
    [
        "${",
        "}",
        "$[",
        "]",
        "X",
        "N",
        ":",
        "-1",
        "2",
        "(",
        ")",
        ",",
        "LEN(",
        "CUT(",
        "IF(",
        "?",
        "CALLERID(",
        "num",
        "+",
        "$",
        "{",
        "[",
        " ",
        '"',
        "\\",
        "=",
        "EXTEN",
        "GLOBAL(",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=30))
def test_random_variable_strings_never_raise(pieces: list[str]) -> None:
    assert isinstance(substitute(channel(), "".join(pieces)), str)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_random_text_never_raises(text: str) -> None:
    assert isinstance(substitute(channel(), text), str)


def test_template_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from switchboard.dialplan import variables

    monkeypatch.setattr(variables, "_TEMPLATE_CACHE_SIZE", 2)
    variables._TEMPLATES.clear()
    state = channel()
    for n in range(5):
        assert substitute(state, f"{n}${{X:0:1}}") == f"{n}a"
    assert len(variables._TEMPLATES) <= 2
    assert substitute(state, "${X") == "abcdef"
    assert substitute(state, "${X") == "abcdef"
    assert len(state.events) == 2
