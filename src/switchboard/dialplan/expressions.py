"""Asterisk's ``$[...]`` expression language (``main/ast_expr2.y`` and ``ast_expr2.fl``).

Operators, lowest precedence first: ``?`` ``::`` (ternary), ``|``, ``&``, the comparisons
``= == != < > <= >=``, ``+ -``, ``* / %``, the prefix ``!`` and ``-``, and, binding tightest,
``:`` (regex match anchored at the start), ``=~`` (regex search) and ``~~`` (concatenation).
Every binary operator is left-associative. Values are numbers (Asterisk's ``long double``,
emulated with 20-digit decimals and printed like ``%.18Lg``), numeric strings (tokens made
of digits and dots) or strings; comparisons are numeric when neither side is a non-numeric
string. Double-quoted strings keep their quotes, as in Asterisk. Nothing here raises: a
syntax error evaluates to ``"0"`` (what ``ast_expr`` returns when the parser fails) and
every problem is reported through the ``warn`` callback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
)
from typing import Final

# A custom dialplan function called from an expression: (name, "a,b") -> text or None.
FunctionCaller = Callable[[str, str], str | None]
Warn = Callable[[str], None]

_NUMBER: Final = 0
_NUMERIC_STRING: Final = 1
_STRING: Final = 2

_CTX = Context(prec=20, Emax=999_999, Emin=-999_999, traps=[])
_PRINT_CTX = Context(prec=18, Emax=999_999, Emin=-999_999, traps=[], rounding=ROUND_HALF_EVEN)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_INT_MAX = Decimal(2_147_483_647)
_MAX_DEPTH = 50
_DIGITS = frozenset("0123456789")
_DIGITS_DOT = frozenset("0123456789.")
_STRTOLD = re.compile(r"[ \t\n\r\f\v]*([+-]?(?:\d+\.?\d*|\.\d+))")
_FUNCTION_NAME = re.compile(r"[A-Z0-9_]+")
_TWO_CHAR_OPS = frozenset({"||", "&&", "==", "=~", "~~", ">=", "<=", "!=", "::"})
_ONE_CHAR_OPS = frozenset("|&=><+,-*/%?!:()")
_TRAIL_STOP = frozenset("-\t\r \n$():?%/+=*<>!|&")
_WORD_PUNCT = frozenset(".';\\_^#@")
_POSIX_CLASSES = {
    "[:alpha:]": "a-zA-Z",
    "[:digit:]": "0-9",
    "[:alnum:]": "a-zA-Z0-9",
    "[:upper:]": "A-Z",
    "[:lower:]": "a-z",
    "[:space:]": r" \t\n\r\f\v",
    "[:blank:]": r" \t",
    "[:xdigit:]": "0-9A-Fa-f",
    "[:punct:]": r"!-/:-@\[-`{-~",
}
_OPERATOR_TOKENS = {
    "|": "|",
    "||": "|",
    "&": "&",
    "&&": "&",
    "=": "=",
    "==": "=",
}


class _Value:
    """One operand: a number, a numeric string or a string (``struct val``); ``num`` of a
    numeric string is its value when already known, else None."""

    __slots__ = ("kind", "num", "text")

    def __init__(self, kind: int, num: Decimal | None, text: str) -> None:
        self.kind = kind
        self.num = num
        self.text = text


def _number(value: Decimal) -> _Value:
    """A number (``make_number``)."""
    return _Value(_NUMBER, value, "")


def _token_value(text: str, numeric: bool) -> _Value:
    """A lexer token; a number token carries its value, computed once per parse."""
    if numeric:
        return _Value(_NUMERIC_STRING, Decimal(text), text)
    return _Value(_STRING, _ZERO, text)


def _make_str(text: str) -> _Value:
    """A computed string; numeric when it is all digits and dots (``make_str``)."""
    numeric = bool(text) and all(c in _DIGITS_DOT for c in text)
    return _Value(_NUMERIC_STRING if numeric else _STRING, None, text)


def _strtold(text: str) -> Decimal:
    """The number at the start of ``text``, 0 when there is none (``strtold``)."""
    match = _STRTOLD.match(text)
    if match is None:
        return _ZERO
    return Decimal(match.group(1))


def _to_number(value: _Value) -> Decimal | None:
    """The value as a number, or None for a non-numeric string (``to_number``)."""
    if value.kind == _STRING:
        return None
    if value.num is not None:
        return value.num
    return _strtold(value.text)


def format_number(value: Decimal) -> str:
    """Print a number as C's ``%.18Lg`` does."""
    if value.is_nan():
        return "-nan" if value.is_signed() else "nan"
    if value.is_infinite():
        return "-inf" if value.is_signed() else "inf"
    if value.is_zero():
        return "-0" if value.is_signed() else "0"
    rounded = _PRINT_CTX.plus(value).normalize(_PRINT_CTX)
    exponent = rounded.adjusted()
    if -4 <= exponent < 18:
        return format(rounded, "f")
    sign, digits, _ = rounded.as_tuple()
    mantissa = str(digits[0])
    if len(digits) > 1:
        mantissa += "." + "".join(str(d) for d in digits[1:])
    return f"{'-' if sign else ''}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _to_text(value: _Value) -> str:
    """The value as text, numbers printed as ``%.18Lg`` (``to_string``)."""
    if value.kind == _NUMBER:
        assert value.num is not None
        return format_number(value.num)
    return value.text


def _strip_quotes(text: str) -> str:
    """Remove every double quote when the text is wrapped in them (``strip_quotes``)."""
    if text and text[0] == '"' and text[-1] == '"':
        return text.replace('"', "")
    return text


def _is_zero_or_null(value: _Value) -> tuple[bool, _Value]:
    """Truth test of ``|`` and ``&``; a numeric string comes back converted, as in C."""
    if value.kind == _NUMBER:
        assert value.num is not None
        return value.num.is_zero(), value
    if not value.text:
        return True, value
    number = _to_number(value)
    if number is None:
        return False, value
    return number.is_zero(), _number(number)


class _SyntaxError(Exception):
    """The expression does not parse; ``ast_expr`` then yields "0"."""


# Tokens: (kind, text) with kind "op", "tok" (word or quoted string) or "num".
_Token = tuple[str, str]


def _scan_variable(text: str, i: int) -> int:
    """End of a ``${...}`` reference plus its trailing characters (the lexer's var state)."""
    n = len(text)
    while True:
        depth = 0
        i += 2
        while i < n:
            c = text[i]
            i += 1
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth < 0:
                    break
        while i < n and text[i] not in _TRAIL_STOP:
            i += 1
        if text.startswith("${", i):
            continue
        return i


def _word_end(text: str, i: int) -> int:
    """End of a bare word: letters, digits, ``.';\\_^#@``, non-ASCII and ``$x`` pairs."""
    n = len(text)
    while i < n:
        c = text[i]
        if (c.isascii() and (c.isalnum() or c in _WORD_PUNCT)) or not c.isascii():
            i += 1
        elif c == "$" and i + 1 < n and text[i + 1] != "{":
            i += 2
        else:
            break
    return i


def _number_end(text: str, i: int) -> int:
    """End of ``[0-9]+(\\.[0-9]+)?`` starting at ``i`` (``i`` when there is none)."""
    n = len(text)
    j = i
    while j < n and text[j] in _DIGITS:
        j += 1
    if j == i:
        return i
    if j + 1 < n and text[j] == "." and text[j + 1] in _DIGITS:
        j += 1
        while j < n and text[j] in _DIGITS:
            j += 1
    return j


def tokenize(text: str) -> list[_Token]:
    """Split an expression into tokens; characters no rule accepts are skipped, as flex does."""
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        pair = text[i : i + 2]
        if pair == "${":
            end = _scan_variable(text, i)
            tokens.append(("tok", text[i:end]))
            i = end
            continue
        if pair in _TWO_CHAR_OPS:
            tokens.append(("op", _OPERATOR_TOKENS.get(pair, pair)))
            i += 2
            continue
        if c in _ONE_CHAR_OPS:
            tokens.append(("op", c))
            i += 1
            continue
        if c == '"':
            close = text.find('"', i + 1)
            if close != -1:
                tokens.append(("tok", text[i : close + 1]))
                i = close + 1
                continue
            i += 1
            continue
        number_end = _number_end(text, i)
        word_end = _word_end(text, i)
        if number_end > i and number_end >= word_end:
            tokens.append(("num", text[i:number_end]))
            i = number_end
        elif word_end > i:
            if text.startswith("${", word_end):
                end = _scan_variable(text, word_end)
                tokens.append(("tok", text[i:end]))
                i = end
            else:
                tokens.append(("tok", text[i:word_end]))
                i = word_end
        else:
            i += 1
    return tokens


# The parse tree: ("val", _Value) | ("call", name, [args]) | (operator, operand...)
_Node = tuple[object, ...]
_COMPARISONS = frozenset({"=", "!=", "<", ">", "<=", ">="})


class _Parser:
    """Precedence climbing over the token list, mirroring the yacc grammar's precedences."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        """The next token, or None at the end."""
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take_op(self, ops: frozenset[str] | str) -> str | None:
        """Consume the next token if it is one of the operators ``ops``."""
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in ops:
            self.pos += 1
            return token[1]
        return None

    def enter(self) -> None:
        """Count one more nesting level; too many is a syntax error, not a stack overflow."""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _SyntaxError(f"expression nested deeper than {_MAX_DEPTH} levels")

    def parse(self) -> _Node | None:
        """The whole expression's tree; None for an empty expression."""
        if not self.tokens:
            return None
        node = self.ternary()
        token = self.peek()
        if token is not None:
            raise _SyntaxError(f"unexpected {token[1]!r}")
        return node

    def ternary(self) -> _Node:
        """``a ? b :: c``, the loosest binding, left-associative."""
        self.enter()
        node = self.binary(0)
        while self.take_op("?"):
            middle = self.ternary()
            if not self.take_op("::"):
                raise _SyntaxError("'?' without '::'")
            node = ("?", node, middle, self.binary(0))
        self.depth -= 1
        return node

    _LEVELS: Final = (
        frozenset("|"),
        frozenset("&"),
        _COMPARISONS,
        frozenset("+-"),
        frozenset("*/%"),
    )

    def binary(self, level: int) -> _Node:
        """The left-associative binary operators from precedence ``level`` up."""
        if level == len(self._LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        ops = self._LEVELS[level]
        while (op := self.take_op(ops)) is not None:
            node = (op, node, self.binary(level + 1))
        return node

    def unary(self) -> _Node:
        """Prefix ``!`` and ``-``, binding tighter than ``*`` but looser than ``:``."""
        op = self.take_op("!-")
        if op is not None:
            self.enter()
            node: _Node = ("neg" if op == "-" else "!", self.unary())
            self.depth -= 1
            return node
        return self.match_chain()

    def match_chain(self) -> _Node:
        """``:``, ``=~`` and ``~~``, the tightest binary operators."""
        node = self.primary()
        while (op := self.take_op(frozenset({":", "=~", "~~"}))) is not None:
            token = self.peek()
            if token is not None and token[0] == "op" and token[1] in "!-":
                right = self.unary()
            else:
                right = self.primary()
            node = (op, node, right)
        return node

    def primary(self) -> _Node:
        """A token, a function call ``NAME(args)`` or a parenthesised expression."""
        token = self.peek()
        if token is None:
            raise _SyntaxError("unexpected end of expression")
        kind, text = token
        if kind == "op":
            if text != "(":
                raise _SyntaxError(f"unexpected {text!r}")
            self.pos += 1
            node = self.ternary()
            if not self.take_op(")"):
                raise _SyntaxError("'(' is never closed")
            return node
        self.pos += 1
        if self.take_op("("):
            args = [self.ternary()]
            while self.take_op(","):
                nxt = self.peek()
                if nxt in (("op", ")"), ("op", ",")):
                    args.append(("val", _make_str("")))
                    continue
                args.append(self.ternary())
            if not self.take_op(")"):
                raise _SyntaxError(f"'(' after {text!r} is never closed")
            return ("call", text, args)
        return ("val", _token_value(text, kind == "num"))


class _Evaluator:
    """Evaluates a parse tree bottom-up, as the yacc actions do."""

    def __init__(self, warn: Warn, call: FunctionCaller | None) -> None:
        self.warn = warn
        self.call = call

    def eval(self, node: _Node) -> _Value:
        """The value of a tree node, operands first as the yacc actions do."""
        op = node[0]
        if op == "val":
            value = node[1]
            assert isinstance(value, _Value)
            return value
        if op == "call":
            return self.function(node)
        if op == "?":
            return self.cond(node)
        left = self.eval(node[1])  # type: ignore[arg-type]
        if op == "neg":
            return self.negate(left)
        if op == "!":
            return self.compl(left)
        right = self.eval(node[2])  # type: ignore[arg-type]
        if op in _COMPARISONS:
            return self.compare(str(op), left, right)
        method: Callable[[_Value, _Value], _Value] = getattr(self, _BINARY_METHODS[str(op)])
        return method(left, right)

    def cond(self, node: _Node) -> _Value:
        """``?::``: a non-empty string other than ``""`` and ``0``, or a non-zero number."""
        a = self.eval(node[1])  # type: ignore[arg-type]
        b = self.eval(node[2])  # type: ignore[arg-type]
        c = self.eval(node[3])  # type: ignore[arg-type]
        if a.kind == _STRING:
            return b if a.text and a.text not in ('""', "0") else c
        number = _to_number(a)
        return b if number is not None and not number.is_zero() else c

    def op_or(self, a: _Value, b: _Value) -> _Value:
        """``|``: the left operand unless it is empty or zero, else the right one."""
        zero, a = _is_zero_or_null(a)
        return b if zero else a

    def op_and(self, a: _Value, b: _Value) -> _Value:
        """``&``: the left operand when both are non-empty and non-zero, else 0."""
        zero_a, a = _is_zero_or_null(a)
        zero_b, _ = _is_zero_or_null(b)
        return _number(_ZERO) if zero_a or zero_b else a

    def compare(self, op: str, a: _Value, b: _Value) -> _Value:
        """The comparisons: numeric when neither side is a non-numeric string."""
        if _STRING in (a.kind, b.kind):
            x: str | Decimal = _to_text(a)
            y: str | Decimal = _to_text(b)
        else:
            x = _to_number(a) or _ZERO
            y = _to_number(b) or _ZERO
            if x.is_nan() or y.is_nan():
                return _number(_ONE if op == "!=" else _ZERO)
        if op == "=":
            result = x == y
        elif op == "!=":
            result = x != y
        elif op == "<":
            result = x < y  # type: ignore[operator]
        elif op == ">":
            result = x > y  # type: ignore[operator]
        elif op == "<=":
            result = x <= y  # type: ignore[operator]
        else:
            result = x >= y  # type: ignore[operator]
        return _number(_ONE if result else _ZERO)

    def non_numeric(self) -> None:
        """Report an arithmetic operand that is not a number."""
        self.warn("non-numeric argument")

    def op_plus(self, a: _Value, b: _Value) -> _Value:
        """``+``; a non-numeric operand is skipped with a warning."""
        x, y = _to_number(a), _to_number(b)
        if x is None:
            self.non_numeric()
            return _number(_ZERO) if y is None else _number(y)
        if y is None:
            return _number(x)
        return _number(_CTX.add(x, y))

    def op_minus(self, a: _Value, b: _Value) -> _Value:
        """``-``; a non-numeric left operand counts as 0, a right one is skipped."""
        x, y = _to_number(a), _to_number(b)
        if x is None:
            self.non_numeric()
            return _number(_ZERO) if y is None else _number(_ZERO - y)
        if y is None:
            self.non_numeric()
            return _number(x)
        return _number(_CTX.subtract(x, y))

    def negate(self, a: _Value) -> _Value:
        """Unary ``-``; a non-numeric operand gives 0."""
        x = _to_number(a)
        if x is None:
            self.non_numeric()
            return _number(_ZERO)
        return _number(x.copy_negate())

    def compl(self, a: _Value) -> _Value:
        """``!``: 1 for empty, ``0`` or a text whose leading integer is 0, else 0."""
        if a.kind == _NUMBER:
            assert a.num is not None
            truth = not a.num.is_zero()
        else:
            truth = bool(a.text) and a.text != "0" and _atoi(a.text) != 0
        return _number(_ZERO if truth else _ONE)

    def op_times(self, a: _Value, b: _Value) -> _Value:
        """``*``; any non-numeric operand gives 0."""
        x, y = _to_number(a), _to_number(b)
        if x is None or y is None:
            self.non_numeric()
            return _number(_ZERO)
        return _number(_CTX.multiply(x, y))

    def op_div(self, a: _Value, b: _Value) -> _Value:
        """``/``; division by zero or by a non-number gives INT_MAX, as Asterisk does."""
        x, y = _to_number(a), _to_number(b)
        if x is None:
            self.non_numeric()
            return _number(_ZERO)
        if y is None:
            self.non_numeric()
            return _number(_INT_MAX)
        if y.is_zero():
            self.warn("division by zero")
            return _number(_INT_MAX)
        return _number(_CTX.divide(x, y))

    def op_rem(self, a: _Value, b: _Value) -> _Value:
        """``%`` with the sign of the dividend (``fmodl``); by zero gives 0."""
        x, y = _to_number(a), _to_number(b)
        if x is None or y is None:
            self.non_numeric()
            return _number(_ZERO)
        if y.is_zero():
            self.warn("div by zero")
            return _number(y)
        return _number(_CTX.remainder(x, y))

    def regex(self, a: _Value, b: _Value, anchored: bool) -> _Value:
        """``:`` and ``=~``: the first group if the pattern has one, else the match length."""
        subject = _strip_quotes(_to_text(a))
        pattern = _strip_quotes(_to_text(b))
        compiled = compile_posix(pattern, self.warn)
        if compiled is None:
            return _make_str("")
        found = (compiled.match if anchored else compiled.search)(subject)
        if found is None:
            return _number(_ZERO) if compiled.groups == 0 else _make_str("")
        if compiled.groups and found.start(1) >= 0:
            return _make_str(found.group(1))
        return _number(Decimal(found.end() - found.start()))

    def op_colon(self, a: _Value, b: _Value) -> _Value:
        """``:``: a regex match anchored at the start of the string."""
        return self.regex(a, b, anchored=True)

    def op_eqtilde(self, a: _Value, b: _Value) -> _Value:
        """``=~``: a regex match anywhere in the string."""
        return self.regex(a, b, anchored=False)

    def op_tildetilde(self, a: _Value, b: _Value) -> _Value:
        """``~~``: concatenation, quotes stripped."""
        return _make_str(_strip_quotes(_to_text(a)) + _strip_quotes(_to_text(b)))

    def function(self, node: _Node) -> _Value:
        """A call: a built-in math function, else a dialplan function by name."""
        name = str(node[1])
        args = [self.eval(arg) for arg in node[2]]  # type: ignore[attr-defined]
        if _FUNCTION_NAME.fullmatch(name) is None:
            self.warn(f"'{name}' is not possibly a function name")
            return _number(_ZERO)
        math_function = _MATH_FUNCTIONS.get(name)
        if math_function is not None:
            arity, compute = math_function
            numbers = [_to_number(arg) for arg in args]
            if len(args) != arity:
                self.warn(f"wrong args to {name}() function")
                return _number(_ZERO)
            clean = [number if number is not None else _ZERO for number in numbers]
            return _number(compute(clean))
        if self.call is None:
            self.warn(f"'{name}' doesn't appear to be an available function")
            return _number(_ZERO)
        result = self.call(name, ",".join(_to_text(arg) for arg in args))
        if result is None:
            self.warn(f"'{name}' doesn't appear to be an available function")
            return _number(_ZERO)
        if all(c in "-0123456789. \t" for c in result):
            return _number(_strtold(result))
        return _make_str(result)


_BINARY_METHODS = {
    "|": "op_or",
    "&": "op_and",
    "+": "op_plus",
    "-": "op_minus",
    "*": "op_times",
    "/": "op_div",
    "%": "op_rem",
    ":": "op_colon",
    "=~": "op_eqtilde",
    "~~": "op_tildetilde",
}


def _atoi(text: str) -> int:
    """C's ``atoi``: optional blanks and sign, then digits; 0 when there are none."""
    match = re.match(r"[ \t\n\r\f\v]*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def _float_function(function: Callable[..., float]) -> Callable[[list[Decimal]], Decimal]:
    """Wrap a float math function; domain errors give NaN as the C library does."""

    def compute(args: list[Decimal]) -> Decimal:
        """Apply the function to the arguments."""
        try:
            return Decimal(repr(function(*(float(a) for a in args))))
        except (ValueError, OverflowError):
            return Decimal("NaN")

    return compute


def _integral(rounding: str) -> Callable[[list[Decimal]], Decimal]:
    """A rounding function of one argument for the given rounding mode."""

    def compute(args: list[Decimal]) -> Decimal:
        """Apply the function to the arguments."""
        return args[0].to_integral_value(rounding=rounding, context=_CTX)

    return compute


_MATH_FUNCTIONS: dict[str, tuple[int, Callable[[list[Decimal]], Decimal]]] = {
    "COS": (1, _float_function(math.cos)),
    "SIN": (1, _float_function(math.sin)),
    "TAN": (1, _float_function(math.tan)),
    "ACOS": (1, _float_function(math.acos)),
    "ASIN": (1, _float_function(math.asin)),
    "ATAN": (1, _float_function(math.atan)),
    "ATAN2": (2, _float_function(math.atan2)),
    "POW": (2, lambda a: _CTX.power(a[0], a[1])),
    "SQRT": (1, lambda a: _CTX.sqrt(a[0])),
    "FLOOR": (1, _integral(ROUND_FLOOR)),
    "CEIL": (1, _integral(ROUND_CEILING)),
    "ROUND": (1, _integral(ROUND_HALF_UP)),
    "RINT": (1, _integral(ROUND_HALF_EVEN)),
    "TRUNC": (1, _integral(ROUND_DOWN)),
    "EXP": (1, lambda a: _CTX.exp(a[0])),
    "EXP2": (1, lambda a: _CTX.power(Decimal(2), a[0])),
    "EXP10": (1, lambda a: _CTX.power(Decimal(10), a[0])),
    "LOG": (1, lambda a: _CTX.ln(a[0])),
    "LOG2": (1, lambda a: _CTX.divide(_CTX.ln(a[0]), _CTX.ln(Decimal(2)))),
    "LOG10": (1, lambda a: _CTX.log10(a[0])),
    "REMAINDER": (2, lambda a: _CTX.remainder_near(a[0], a[1])),
    "ABS": (1, lambda a: a[0].copy_abs()),
}


def compile_posix(pattern: str, warn: Warn) -> re.Pattern[str] | None:
    """Compile a POSIX extended regex (bracket classes translated); None and a warning if bad."""
    if "[:" in pattern:
        for name, chars in _POSIX_CLASSES.items():
            pattern = pattern.replace(name, chars)
    try:
        return re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        warn(f"regcomp() error: {exc}")
        return None


_SENTINEL: Final = _SyntaxError("sentinel")
_PARSE_CACHE: dict[str, _Node | _SyntaxError | None] = {}
_PARSE_CACHE_SIZE = 4096


def _parse(text: str) -> _Node | None:
    """Parse (cached: dialplans evaluate the same expression texts over and over)."""
    cached = _PARSE_CACHE.get(text, _SENTINEL)
    if cached is _SENTINEL:
        try:
            cached = _Parser(tokenize(text)).parse()
        except _SyntaxError as exc:
            cached = exc
        if len(_PARSE_CACHE) >= _PARSE_CACHE_SIZE:
            _PARSE_CACHE.clear()
        _PARSE_CACHE[text] = cached
    if isinstance(cached, _SyntaxError):
        raise cached
    return cached


def evaluate(text: str, warn: Warn | None = None, call: FunctionCaller | None = None) -> str:
    """The result of ``$[text]`` as Asterisk prints it; never raises."""
    sink = warn if warn is not None else _ignore
    try:
        tree = _parse(text)
    except _SyntaxError as exc:
        sink(f"syntax error in expression {text!r}: {exc}")
        return "0"
    if tree is None:
        return ""
    try:
        return _to_text(_Evaluator(sink, call).eval(tree))
    except RecursionError:
        sink(f"cannot evaluate expression {text[:60]!r}...: too many operators in a row")
        return "0"


def _ignore(message: str) -> None:
    """Drop a warning (callers that do not collect them)."""


def check_condition(condition: str) -> bool:
    """Asterisk's truth test of a condition (``pbx_checkcondition``): empty is false,
    a leading integer is its own truth, any other text is true."""
    if not condition:
        return False
    match = re.match(r"[ \t\n\r\f\v]*([+-]?\d+)", condition)
    if match is not None:
        return int(match.group(1)) != 0
    return True
