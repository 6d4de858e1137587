"""$[...] as Asterisk's ast_expr2 evaluates it: operators, precedence, types, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.dialplan.expressions import (
    check_condition,
    evaluate,
    format_number,
    tokenize,
)


def ev(text: str, call=None) -> tuple[str, list[str]]:
    warnings: list[str] = []
    return evaluate(text, warnings.append, call), warnings


@pytest.mark.parametrize(
    ("expr", "result"),
    [
        # arithmetic, long-double-like results printed as %.18Lg
        ("1 + 2", "3"),
        ("1+2", "3"),
        ("10 - 4", "6"),
        ("6 * 7", "42"),
        ("7 / 2", "3.5"),
        ("10 / 3", "3.33333333333333333"),
        ("2 / 3", "0.666666666666666667"),
        ("7 % 3", "1"),
        ("-7 % 3", "-1"),
        ("7 % -3", "1"),
        ("7.5 % 2", "1.5"),
        ("0.1 + 0.2", "0.3"),
        ("1.50 + 0", "1.5"),
        ("007 + 1", "8"),
        ("2 * 1000000000000000000000", "2e+21"),
        ("1 / 100000", "1.0e-05".replace("1.0", "1")),
        ("1 / 10000", "0.0001"),
        ("123456789012345678 * 10", "1.23456789012345678e+18"),
        # unary minus and logical not
        ("-5", "-5"),
        ("- 5 + 2", "-3"),
        ("-0", "-0"),
        ("0 * -1", "-0"),
        ("--3", "3"),
        ("!0", "1"),
        ("!1", "0"),
        ("!5", "0"),
        ("!abc", "1"),
        ('!""', "1"),
        ("!0.5", "1"),
        ("!(1 = 1)", "0"),
        ("!!7", "1"),
        # precedence: * over +, + over comparison, comparison over & over |
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("2 * 3 + 4 * 5", "26"),
        ("10 - 2 - 3", "5"),
        ("100 / 10 / 5", "2"),
        ("1 + 1 = 2", "1"),
        ("1 = 1 & 2 = 2", "1"),
        ("0 | 1 & 0", "0"),
        ("1 | 0 & 0", "1"),
        ("1 < 2 < 3", "1"),
        ("3 > 2 > 1", "0"),
        ("-2 * 3", "-6"),
        ("!0 + 1", "2"),
        # comparisons: numeric when both are numbers, else strings
        ("1 = 1", "1"),
        ("1 == 1", "1"),
        ("1 = 01", "1"),
        ("1.0 = 1", "1"),
        ("10 > 9", "1"),
        ("abc = abc", "1"),
        ("abc != abd", "1"),
        ("abc < abd", "1"),
        ("b > abc", "1"),
        ("10 < 9a", "1"),
        ("a <= a", "1"),
        ("a >= b", "0"),
        ("2 >= 2", "1"),
        ("2 <= 1", "0"),
        ("2 != 2", "0"),
        ('"abc" = "abc"', "1"),
        ('"abc" = abc', "0"),
        ('"" = ""', "1"),
        ("1 + 1 = 2 ? yes :: no", "yes"),
        # | and & return operands, not booleans
        ("0 | 5", "5"),
        ("3 | 5", "3"),
        ("007 | 5", "7"),
        ("abc | def", "abc"),
        ('"" | def', '""'),
        ("0 | abc", "abc"),
        ("3 & 5", "3"),
        ("abc & 5", "abc"),
        ("0 & 5", "0"),
        ("3 & 0", "0"),
        ("0.0 | x", "x"),
        ('(xyz : "a(b)") | fallback', "fallback"),
        ("ACOS(2) = ACOS(2)", "0"),
        ("ACOS(2) != 1", "1"),
        ("ACOS(2) < 1", "0"),
        ("|| 1".replace("||", "0 ||"), "1"),
        ("1 && 0", "0"),
        # ternary ?:: with string and numeric conditions
        ("1 ? a :: b", "a"),
        ("0 ? a :: b", "b"),
        ("0.0 ? a :: b", "b"),
        ("x ? a :: b", "a"),
        ('"" ? a :: b', "b"),
        ("1 ? 0 ? x :: y :: z", "y"),
        ("0 ? a :: 1 ? b :: c", "b"),
        ("1 ? 2 + 3 :: 4", "5"),
        ("0 ? 1 :: 2 | 3", "2"),
        # : anchored match, =~ search, ~~ concatenation
        ("abcde : abc", "3"),
        ("abcde : bcd", "0"),
        ('abcde : "a(b.)"', "bc"),
        ('xyz : "a(b)"', ""),
        ("abcde =~ bcd", "3"),
        ('abcde =~ "c(d)"', "d"),
        ("abcde =~ zz", "0"),
        ('"5551234" : "555(.*)"', "1234"),
        ('"5551234" : 555', "3"),
        ("12345 : 1", "1"),
        ('"abc" ~~ "def"', "abcdef"),
        ("ab ~~ cd ~~ ef", "abcdef"),
        ("1 ~~ 2 + 3", "15"),
        ('x : "[[:digit:]]"', "0"),
        ('"7x" : "[[:digit:]]"', "1"),
        ("- ab : a", "-1"),
        ("abc : - b", "0"),
        # non-numeric operands
        ("abc + 1", "1"),
        ("1 + abc", "1"),
        ("abc + def", "0"),
        ("abc - 1", "-1"),
        ("5 - abc", "5"),
        ("abc - def", "0"),
        ("-abc", "0"),
        ("abc * 2", "0"),
        ("abc / 2", "0"),
        ("2 / abc", "2147483647"),
        ("1 / 0", "2147483647"),
        ("abc % 2", "0"),
        ("5 % 0", "0"),
        # tokens
        ('"a b c"', '"a b c"'),
        ("  spaced   out  ", "spaced"[:0] or "0"),
        ("abc", "abc"),
        ("a.b'c;d\\e_f^g#h@i", "a.b'c;d\\e_f^g#h@i"),
        ("caf\u00e9", "caf\u00e9"),
        ("$a", "$a"),
        ("1.2.3", "1.2.3"),
        ("1.2.3 + 1", "1"),
        ("12ab", "12ab"),
        ("[1]", "1"),
        ("", ""),
        ("   ", ""),
        ("${X} + 1", "1"),
        ("${X}y = ${X}y", "1"),
        ("${A}${B} | 0", "${A}${B}"),
        ("${X}-1", "-1"),
        ("${X{}}", "${X{}}"),
        ("${X", "${X"),
        ("x${Y}.z", "x${Y}.z"),
        ("x${Y}$z", "0"),
        # built-in math functions
        ("SQRT(16)", "4"),
        ("SQRT(2)", "1.41421356237309505"),
        ("POW(2, 10)", "1024"),
        ("FLOOR(2.5)", "2"),
        ("CEIL(2.1)", "3"),
        ("ROUND(2.5)", "3"),
        ("ROUND(-2.5)", "-3"),
        ("RINT(2.5)", "2"),
        ("TRUNC(-2.7)", "-2"),
        ("ABS(-4)", "4"),
        ("ABS(abc)", "0"),
        ("COS(0)", "1"),
        ("SIN(0)", "0"),
        ("TAN(0)", "0"),
        ("ACOS(1)", "0"),
        ("ASIN(0)", "0"),
        ("ATAN(0)", "0"),
        ("ATAN2(0, 1)", "0"),
        ("EXP(0)", "1"),
        ("EXP2(3)", "8"),
        ("EXP10(2)", "100"),
        ("LOG(1)", "0"),
        ("LOG2(8)", "3"),
        ("LOG10(1000)", "3"),
        ("REMAINDER(7, 4)", "-1"),
        ("ACOS(2)", "nan"),
        ("SQRT(1) + 1", "2"),
    ],
)
def test_expression_results(expr: str, result: str) -> None:
    assert ev(expr)[0] == result


@pytest.mark.parametrize(
    ("expr", "warning"),
    [
        ("1 +", "syntax error"),
        ("(1", "'(' is never closed"),
        ("1 )", "unexpected ')'"),
        ("1 ? 2", "without '::'"),
        ("1, 2", "unexpected ','"),
        ("FOO()", "syntax error"),
        ("* 2", "syntax error"),
        ("COS(1", "never closed"),
    ],
)
def test_syntax_errors_give_zero_and_a_warning(expr: str, warning: str) -> None:
    result, warnings = ev(expr)
    assert result == "0"
    assert any(warning in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("expr", "result", "warning"),
    [
        ("abc + 1", "1", "non-numeric argument"),
        ("1 / 0", "2147483647", "division by zero"),
        ("5 % 0", "0", "div by zero"),
        ('abc : "("', "", "regcomp() error"),
        ("COS(1, 2)", "0", "wrong args to COS()"),
        ("cos(1)", "0", "not possibly a function name"),
        ("FOO(1)", "0", "doesn't appear to be an available function"),
    ],
)
def test_runtime_problems_warn(expr: str, result: str, warning: str) -> None:
    value, warnings = ev(expr)
    assert value == result
    assert any(warning in w for w in warnings), warnings


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    result, warnings = ev("(" * 500 + "1" + ")" * 500)
    assert result == "0"
    assert "deeper" in warnings[0]
    assert ev("(" * 20 + "1" + ")" * 20)[0] == "1"
    assert ev("-" * 500 + "1")[0] == "0"


def test_a_very_long_chain_is_refused_not_a_crash() -> None:
    result, warnings = ev(" + ".join(["1"] * 5000))
    assert result == "0"
    assert "cannot evaluate" in warnings[0]
    assert ev(" + ".join(["1"] * 50))[0] == "50"


def test_custom_functions_are_called_with_composed_arguments() -> None:
    calls: list[tuple[str, str]] = []

    def call(name: str, args: str) -> str | None:
        calls.append((name, args))
        return {"LEN": str(len(args)), "NAME": "alice", "EMPTY": "", "BAD": None}[name]

    assert ev("LEN(abc) + 1", call)[0] == "4"
    assert ev("LEN(1 + 1, x,)", call)[0] == "4"
    assert calls[-1] == ("LEN", "2,x,")
    assert ev("LEN(a,,b)", call)[0] == "4"
    assert ev("NAME(x) = alice", call)[0] == "1"
    assert ev("EMPTY(x) + 1", call)[0] == "1"
    assert ev("BAD(x)", call)[0] == "0"


def test_evaluate_without_a_warning_sink() -> None:
    assert evaluate("1 +") == "0"
    assert evaluate("abc + 1") == "1"


def test_parse_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from switchboard.dialplan import expressions

    monkeypatch.setattr(expressions, "_PARSE_CACHE_SIZE", 3)
    expressions._PARSE_CACHE.clear()
    for n in range(10):
        assert evaluate(f"{n} + 1") == str(n + 1)
    assert len(expressions._PARSE_CACHE) <= 3
    assert evaluate("1 +") == "0"
    assert evaluate("1 +") == "0"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("NaN"), "nan"),
        (Decimal("-NaN"), "-nan"),
        (Decimal("Infinity"), "inf"),
        (Decimal("-Infinity"), "-inf"),
        (Decimal("0"), "0"),
        (Decimal("-0"), "-0"),
        (Decimal("1E+18"), "1e+18"),
        (Decimal("999999999999999999"), "999999999999999999"),
        (Decimal("0.00001"), "1e-05"),
        (Decimal("-1.5E-7"), "-1.5e-07"),
        (Decimal("1E+100"), "1e+100"),
    ],
)
def test_format_number_is_percent_18_lg(value: Decimal, text: str) -> None:
    assert format_number(value) == text


def test_tokenizer_skips_characters_no_rule_accepts() -> None:
    assert tokenize('~ { } " 1') == [("num", "1")]
    assert tokenize("a${B}c d") == [("tok", "a${B}c"), ("tok", "d")]
    assert tokenize("${A}${B}") == [("tok", "${A}${B}")]
    assert tokenize("1.5x") == [("tok", "1.5x")]
    assert tokenize("1.") == [("tok", "1.")]
    assert tokenize("$") == []


@pytest.mark.parametrize(
    ("condition", "truth"),
    [
        ("", False),
        ("0", False),
        (" 0", False),
        ("00", False),
        ("0abc", False),
        ("0.5", False),
        ("1", True),
        ("-1", True),
        ("+2", True),
        ("abc", True),
        (" ", True),
    ],
)
def test_check_condition_is_pbx_checkcondition(condition: str, truth: bool) -> None:
    assert check_condition(condition) is truth


_ATOMS = st.sampled_from(
    [
        "1",
        "0",
        "-",
        "+",
        "*",
        "/",
        "%",
        "(",
        ")",
        "?",
        "::",
        ":",
        "=~",
        "~~",
        "|",
        "&",
        "=",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "!",
        '"a b"',
        "abc",
        "1.5",
        ",",
        "SQRT(",
        "FOO(",
        "${X}",
        "[",
        "]",
        "$",
        "\\",
        "'",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ATOMS, max_size=25), st.sampled_from([" ", ""]))
def test_random_token_soup_never_raises(atoms: list[str], sep: str) -> None:
    result, _ = ev(sep.join(atoms), lambda name, args: args)
    assert isinstance(result, str)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_random_text_never_raises(text: str) -> None:
    assert isinstance(evaluate(text), str)
