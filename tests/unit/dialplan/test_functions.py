"""The built-in dialplan functions and the registry, as Asterisk's funcs/ behave."""

from __future__ import annotations

from datetime import timedelta, timezone, tzinfo

import pytest

from switchboard.dialplan.appargs import separate_args
from switchboard.dialplan.functions import (
    FUNCTIONS,
    DialplanFunction,
    FunctionRegistry,
    format_callerid,
    parse_callerid,
    split_call,
)
from switchboard.dialplan.state import ChannelState, utc_only
from switchboard.dialplan.variables import substitute


def channel(**fields: object) -> ChannelState:
    base: dict[str, object] = {
        "variables": {
            "PATH": "a-b-c-d-e",
            "CSV": "x,y,z",
            "EMPTY": "",
            "TABS": "a\tb",
            "HEX": "1A2",
        },
        "globals": {"G": "g1"},
        "caller_number": "102",
        "caller_name": "Bob",
        "clock": lambda: 1_700_000_000.0,
    }
    base.update(fields)
    return ChannelState(**base)  # type: ignore[arg-type]


def warned(state: ChannelState, text: str) -> bool:
    return any(text in e.message for e in state.events)


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("${LEN(hello)}", "5"),
        ("${LEN(a,b)}", "3"),
        ("${ISNULL()}", "1"),
        ("${ISNULL(x)}", "0"),
        ("${EXISTS()}", "0"),
        ("${EXISTS(x)}", "1"),
        ("${IF(1?yes:no)}", "yes"),
        ("${IF(0?yes:no)}", "no"),
        ("${IF( 0 ? yes : no )}", "no"),
        ("${IF(abc?yes:no)}", "yes"),
        ("${IF(1?yes)}", "yes"),
        ("${IF(0?yes)}", ""),
        ("${IF(1?:no)}", ""),
        ('${IF(1?"a:b":c)}', "a:b"),
        ("${IF(1?a\\:b:c)}", "a:b"),
        ("${CUT(PATH,-,2)}", "b"),
        ("${CUT(PATH,,2)}", "b"),
        ("${CUT(PATH,-,2-3)}", "b-c"),
        ("${CUT(PATH,-,3-)}", "c-d-e"),
        ("${CUT(PATH,-,-2)}", "a-b"),
        ("${CUT(PATH,-,1&4)}", "a-d"),
        ("${CUT(PATH,-,9)}", ""),
        ("${CUT(CSV,\\,,2)}", "y"),
        ("${CUT(UNSET,-,1)}", ""),
        ("${CUT(TABS,\\\\t,2)}", "b"),
        ("${CUT(HEX,\\\\x41,2)}", "2"),
        ("${CUT(HEX,\\\\xZZ,1)}", "1A2"),
        ("${CUT(HEX,\\\\A,1)}", "1"),
        ('${REGEX("b"abc)}', "1"),
        ('${REGEX("^[0-9]+$" 12345)}', "1"),
        ('${REGEX("^[0-9]+$" 12a45)}', "0"),
        ('${REGEX("b" abc)}', "1"),
        ('${REGEX("[[:digit:]]" x1)}', "1"),
        ("${STRFTIME(0,,%Y-%m-%d)}", "1970-01-01"),
        ("${STRFTIME(,,%H:%M)}", "22:13"),
        ("${STRFTIME(1700000000)}", "Tue Nov 14 22:13:20 2023"),
        ("${STRFTIME(0,UTC,%Y)}", "1970"),
        ("${STRFTIME(0,PLUS2,%H)}", "02"),
        ("${GLOBAL(G)}", "g1"),
        ("${GLOBAL(PATH)}", ""),
        ("${SET(NEW=value)}-${NEW}", "value-value"),
        ("${SET( NEW = spaced )}-${NEW}", "spaced-spaced"),
        ("${CALLERID(number)}", "102"),
        ("${CALLERID(NAME)}", "Bob"),
        ('${CALLERID(name,"Alice" <101>)}', "Alice"),
        ("${CALLERID(num,<101>)}", "101"),
        ("${CALLERID(all,101)}", "101"),
    ],
)
def test_function_reads(text: str, result: str) -> None:
    def zones(name: str) -> tzinfo | None:
        return timezone(timedelta(hours=2)) if name == "PLUS2" else utc_only(name)

    state = channel(zones=zones)
    assert substitute(state, text) == result
    assert state.events == []


@pytest.mark.parametrize(
    ("text", "result", "warning"),
    [
        ("${IF()}", "", "Syntax IF"),
        ("${IF(1)}", "", "Syntax IF"),
        ("${CUT(PATH)}", "", "syntax CUT"),
        ("${CUT(PATH,-,x)}", "", "invalid field"),
        ("${CUT(PATH,-,)}", "", "syntax CUT"),
        ("${REGEX(abc)}", "", "unexpected arguments"),
        ('${REGEX("a{2,1}" abc)}', "", "regcomp() error"),
        ('${REGEX("(" abc)}', "", "unexpected arguments"),
        ("${STRFTIME(soon,,%Y)}", "2023", "is not a number"),
        ("${STRFTIME(0,Mars/Olympus,%Y)}", "1970", "unknown timezone"),
        ("${STRFTIME(1e300,,%Y)}", "", "cannot format"),
        ("${SET(novalue)}", "", "syntax SET"),
        ("${CALLERID(ani)}", "", "unknown callerid data type"),
        ("${CALLERID()}", "", "unknown callerid data type"),
    ],
)
def test_function_read_failures_warn(text: str, result: str, warning: str) -> None:
    state = channel()
    assert substitute(state, text) == result
    assert warned(state, warning), state.events


def test_writes_through_set_function_and_callerid() -> None:
    state = channel()
    substitute(state, "${SET(CALLERID(num)=200)}")
    assert state.caller_number == "200"
    substitute(state, "${SET(CALLERID(name)=Carol)}")
    assert state.caller_name == "Carol"
    substitute(state, '${SET(CALLERID(all)="Dave D" <300>)}')
    assert (state.caller_name, state.caller_number) == ("Dave D", "300")
    substitute(state, "${SET(GLOBAL(G)=g2)}")
    assert state.globals["G"] == "g2"
    substitute(state, "${SET(CALLERID(pres)=x)}")
    assert warned(state, "unknown callerid data type")
    substitute(state, "${SET(LEN(x)=1)}")
    assert warned(state, "function LEN cannot be written to")
    substitute(state, "${SET(NOPE(x)=1)}")
    assert warned(state, "function NOPE not registered")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ('"Bob B" <102>', ("Bob B", "102")),
        ("Bob <102>", ("Bob", "102")),
        ("<102>", (None, "102")),
        ("<102", (None, "102")),
        ("+33 1 23", (None, "+33123")),
        ("Bob", ("Bob", None)),
        ("", (None, None)),
        ('"" <>', (None, None)),
    ],
)
def test_parse_callerid(text: str, parsed: tuple[str | None, str | None]) -> None:
    assert parse_callerid(text) == parsed


def test_format_callerid_escapes_quotes() -> None:
    assert format_callerid('Bo"b', "1") == '"Bo\\"b" <1>'
    assert format_callerid("Bob", None) == "Bob"
    assert format_callerid(None, "1") == "1"
    assert format_callerid(None, None) == ""


def test_state_defaults_and_global_deletion() -> None:
    state = ChannelState()
    assert state.clock() == 0.0
    state.set_global("G", "1")
    state.set_global("G", None)
    state.set("_X", "1")
    state.set("X", None)
    assert state.globals == {} and state.variables == {}


def test_registry_refuses_duplicates_and_copies() -> None:
    registry = FUNCTIONS.copy()
    extra = DialplanFunction("ECHO", lambda state, args: args)
    registry.register(extra)
    assert registry.get("ECHO") is extra
    assert FUNCTIONS.get("ECHO") is None
    with pytest.raises(ValueError, match="already registered"):
        registry.register(extra)
    state = channel(functions=registry)
    assert substitute(state, "${ECHO(hi)}") == "hi"


def test_a_failing_function_is_reported_not_raised() -> None:
    def broken(*args: object) -> str:
        raise KeyError("oops")

    registry = FunctionRegistry([DialplanFunction("BROKEN", broken, broken)])  # type: ignore[arg-type]
    state = channel(functions=registry)
    assert substitute(state, "[${BROKEN(x)}]") == "[]"
    assert not registry.write(state, "BROKEN(x)", "1")
    assert [e.message for e in state.events] == ["function BROKEN failed: KeyError: 'oops'"] * 2


def test_write_only_function_cannot_be_read() -> None:
    registry = FunctionRegistry([DialplanFunction("SINK", write=lambda s, a, v: True)])
    state = channel(functions=registry)
    assert substitute(state, "${SINK(x)}") == ""
    assert warned(state, "SINK cannot be read")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("LEN(a)", ("LEN", "a")),
        ("LEN(a(b))", ("LEN", "a(b)")),
        ("LEN", ("LEN", "")),
        ("LEN(a", ("LEN", "a")),
    ],
)
def test_split_call(text: str, parsed: tuple[str, str]) -> None:
    assert split_call(text) == parsed


@pytest.mark.parametrize(
    ("text", "kwargs", "args"),
    [
        ("", {}, []),
        ("a", {}, ["a"]),
        ("a,b,c", {}, ["a", "b", "c"]),
        ("a,,c", {}, ["a", "", "c"]),
        ("a,", {}, ["a"]),
        (",a", {}, ["", "a"]),
        ("f(a,b),c", {}, ["f(a,b)", "c"]),
        ("[a,b],c", {}, ["[a,b]", "c"]),
        ('"a,b",c', {}, ["a,b", "c"]),
        ('"a,b",c', {"remove_chars": False}, ['"a,b"', "c"]),
        ("a\\,b,c", {}, ["a,b", "c"]),
        ("a\\,b,c", {"remove_chars": False}, ["a\\,b", "c"]),
        ("a\\", {}, ["a"]),
        ("a\\", {"remove_chars": False}, ["a\\"]),
        ("a),b", {}, ["a)", "b"]),
        ("a],b", {}, ["a]", "b"]),
        ("a,b,c,d", {"limit": 2}, ["a", "b,c,d"]),
        ("a?b?c", {"delim": "?", "limit": 2}, ["a", "b?c"]),
        ('"x" y', {"limit": 3}, ["x y"]),
    ],
)
def test_separate_args(text: str, kwargs: dict[str, object], args: list[str]) -> None:
    assert separate_args(text, **kwargs) == args  # type: ignore[arg-type]


def test_separate_args_with_quote_delimiter_keeps_no_quote_state() -> None:
    assert separate_args('"x" y', '"', limit=3) == ["", "x", " y"]
