"""Dialplan functions (``${NAME(args)}``): a registry and the pure built-ins.

Built-ins, as in Asterisk's ``funcs/``: ``LEN``, ``IF``, ``ISNULL``, ``EXISTS``, ``CUT``,
``REGEX``, ``STRFTIME``, ``GLOBAL``, ``SET``, ``CALLERID`` and ``LOCAL``. Names are case-sensitive
(``ast_custom_function_find`` uses ``strcmp``). A read returns None on failure, which
substitutes nothing; every failure is reported on the channel as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from switchboard.dialplan.appargs import separate_args
from switchboard.dialplan.expressions import check_condition, compile_posix

if TYPE_CHECKING:
    from switchboard.dialplan.state import ChannelState

FunctionRead = Callable[["ChannelState", str], str | None]
FunctionWrite = Callable[["ChannelState", str, str], bool]


@dataclass(frozen=True, slots=True)
class DialplanFunction:
    """One function: its name and how to read and/or write it (``ast_custom_function``)."""

    name: str
    read: FunctionRead | None = None
    write: FunctionWrite | None = None


def split_call(text: str) -> tuple[str, str]:
    """``NAME(args)`` into name and args: first ``(`` and last ``)`` (``func_args``)."""
    name, paren, rest = text.partition("(")
    if not paren:
        return name, ""
    close = rest.rfind(")")
    return name, rest if close == -1 else rest[:close]


class FunctionRegistry:
    """Every function the dialplan can call; apps/ modules add theirs with :meth:`register`."""

    __slots__ = ("_functions",)

    def __init__(self, functions: Iterable[DialplanFunction] = ()) -> None:
        self._functions: dict[str, DialplanFunction] = {}
        for function in functions:
            self.register(function)

    def register(self, function: DialplanFunction) -> None:
        """Add a function; ValueError if the name is taken, as Asterisk refuses it too."""
        if function.name in self._functions:
            raise ValueError(f"function {function.name} is already registered")
        self._functions[function.name] = function

    def get(self, name: str) -> DialplanFunction | None:
        """The function called ``name`` (case-sensitive), or None."""
        return self._functions.get(name)

    def copy(self) -> FunctionRegistry:
        """A registry with the same functions, to extend without touching this one."""
        return FunctionRegistry(self._functions.values())

    def read(self, state: ChannelState, call: str) -> str | None:
        """Read ``NAME(args)`` (``ast_func_read``); None, with a warning, on failure."""
        name, args = split_call(call)
        function = self._functions.get(name)
        if function is None:
            state.warn(f"function {name} not registered")
            return None
        if function.read is None:
            state.warn(f"function {name} cannot be read")
            return None
        try:
            return function.read(state, args)
        except Exception as exc:  # a module's bug must not end the call engine's loop
            state.warn(f"function {name} failed: {type(exc).__name__}: {exc}")
            return None

    def write(self, state: ChannelState, call: str, value: str) -> bool:
        """Write ``NAME(args)=value`` (``ast_func_write``); False, with a warning, on failure."""
        name, args = split_call(call)
        function = self._functions.get(name)
        if function is None:
            state.warn(f"function {name} not registered")
            return False
        if function.write is None:
            state.warn(f"function {name} cannot be written to")
            return False
        try:
            return function.write(state, args, value)
        except Exception as exc:  # a module's bug must not end the call engine's loop
            state.warn(f"function {name} failed: {type(exc).__name__}: {exc}")
            return False


def _len(state: ChannelState, args: str) -> str:
    """``LEN(string)``: its length in characters."""
    return str(len(args))


def _if(state: ChannelState, args: str) -> str | None:
    """``IF(expr?[true][:false])`` (func_logic ``acf_if``)."""
    parts = separate_args(args, "?", limit=2)
    if len(parts) < 2 or not args or not parts[1]:
        state.warn("Syntax IF(<expr>?[<true>][:<false>]) (expr must be non-null)")
        return None
    branches = separate_args(parts[1], ":", limit=2)
    if check_condition(parts[0].strip()):
        return branches[0].strip() if branches else ""
    return branches[1].strip() if len(branches) > 1 else ""


def _isnull(state: ChannelState, args: str) -> str:
    """``ISNULL(data)``: 1 when empty."""
    return "0" if args else "1"


def _exists(state: ChannelState, args: str) -> str:
    """``EXISTS(data)``: 1 when not empty."""
    return "1" if args else "0"


def _decode_char(text: str) -> str:
    """A delimiter as ``ast_get_encoded_char`` reads it: ``\\n``, ``\\t``, ``\\x41`` or a char."""
    if text.startswith("\\") and len(text) > 1:
        escapes = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
        if text[1] == "x" and len(text) > 2:
            try:
                return chr(int(text[2:4], 16))
            except ValueError:
                return text[1]
        return escapes.get(text[1], text[1])
    return text[0]


def _cut(state: ChannelState, args: str) -> str | None:
    """``CUT(varname,char-delim,range-spec)`` (func_cut): fields like ``2``, ``1-3``, ``2-``."""
    parts = separate_args(args)
    if len(parts) < 3 or not parts[0]:
        state.warn("syntax CUT(<varname>,<char-delim>,<range-spec>)")
        return None
    delim = _decode_char(parts[1]) if parts[1] else "-"
    value = state.get(parts[0]) or ""
    fields = value.split(delim)
    out: list[str] = []
    for spec in parts[2].split("&"):
        match = re.fullmatch(r"\s*(\d*)\s*(-?)\s*(\d*)\s*", spec)
        if match is None or not (match.group(1) or match.group(3)):
            state.warn(f"CUT: invalid field specification {spec!r}")
            return None
        start = int(match.group(1) or 1)
        end = (int(match.group(3)) if match.group(3) else len(fields)) if match.group(2) else start
        out.extend(fields[max(start, 1) - 1 : end])
    return delim.join(out)


def _regex(state: ChannelState, args: str) -> str | None:
    """``REGEX("regular expression" string)``: 1 if the string matches, else 0."""
    parts = separate_args(args, '"', limit=3)
    if len(parts) != 3:
        state.warn("unexpected arguments: should have been in the form '\"<regex>\" <string>'")
        return None
    subject = parts[2]
    if subject[:1] in (" ", "\t"):
        subject = subject[1:]
    compiled = compile_posix(parts[1], state.warn)
    if compiled is None:
        return None
    return "1" if compiled.search(subject) else "0"


def _strftime(state: ChannelState, args: str) -> str:
    """``STRFTIME([epoch][,[timezone][,format]])``, with the channel's injected clock."""
    parts = [*separate_args(args), "", "", ""]
    epoch_text, zone_name, fmt = parts[0].strip(), parts[1].strip(), parts[2] or "%c"
    epoch = state.clock()
    if epoch_text:
        try:
            epoch = float(epoch_text)
        except ValueError:
            state.warn(f"STRFTIME: epoch {epoch_text!r} is not a number; using now")
    zone = state.local_zone
    if zone_name:
        found = state.zones(zone_name)
        if found is None:
            state.warn(f"STRFTIME: unknown timezone {zone_name!r}; using local time")
        else:
            zone = found
    try:
        return datetime.fromtimestamp(epoch, zone).strftime(fmt)
    except (ValueError, OverflowError, OSError) as exc:
        state.warn(f"STRFTIME: cannot format {epoch!r} with {fmt!r}: {exc}")
        return ""


def _global_read(state: ChannelState, args: str) -> str:
    """``GLOBAL(name)``: a global variable, never a channel variable."""
    return state.globals.get(args, "")


def _global_write(state: ChannelState, args: str, value: str) -> bool:
    """``Set(GLOBAL(name)=value)``."""
    state.set_global(args, value)
    return True


def _set(state: ChannelState, args: str) -> str | None:
    """``SET(name=value)``: set a variable (or function) and return the value."""
    name, equals, value = args.partition("=")
    name, value = name.strip(), value.strip()
    if not equals or not name:
        state.warn("syntax SET(<varname>=[<value>])")
        return None
    assign(state, name, value)
    return value


def assign(state: ChannelState, name: str, value: str) -> None:
    """``name=value`` as Set does it: a name ending in ``)`` writes a function."""
    if name.endswith(")"):
        state.functions.write(state, name, value)
    else:
        state.set(name, value)


_CALLERID_ITEMS = ("all", "name", "num")


def _callerid_item(text: str) -> str | None:
    """The CALLERID data type named (``all``, ``name``, ``num``), by prefix."""
    lowered = text.strip().lower()
    for item in _CALLERID_ITEMS:
        if lowered.startswith(item):
            return item
    return None


def parse_callerid(text: str) -> tuple[str | None, str | None]:
    """(name, number) of ``"Name" <number>``, ``<number>``, a bare number or a bare name."""
    text = text.strip()
    less = text.find("<")
    if less != -1:
        greater = text.find(">", less)
        number = text[less + 1 : greater if greater != -1 else len(text)].strip()
        name = text[:less].strip().replace('"', "")
        return (name or None), (number or None)
    if text and re.fullmatch(r"[0-9+*#()\- .]+", text):
        return None, text.replace(" ", "")
    return (text or None), None


def format_callerid(name: str | None, number: str | None) -> str:
    """``"Name" <number>`` as ``ast_callerid_merge`` writes it, unknown parts left out."""
    if name and number:
        return '"{}" <{}>'.format(name.replace("\\", "\\\\").replace('"', '\\"'), number)
    return name or number or ""


def _callerid_read(state: ChannelState, args: str) -> str | None:
    """``CALLERID(name|num|all[,CID])``: the channel's caller ID, or one parsed from CID."""
    parts = separate_args(args)
    item = _callerid_item(parts[0]) if parts else None
    if item is None:
        state.warn(f"CALLERID: unknown callerid data type {args!r}")
        return None
    if len(parts) > 1:
        name, number = parse_callerid(parts[1])
    else:
        name, number = state.caller_name, state.caller_number
    if item == "name":
        return name or ""
    if item == "num":
        return number or ""
    return format_callerid(name, number)


def _callerid_write(state: ChannelState, args: str, value: str) -> bool:
    """``Set(CALLERID(name|num|all)=value)``."""
    item = _callerid_item(args)
    if item is None:
        state.warn(f"CALLERID: unknown callerid data type {args!r}")
        return False
    if item == "name":
        state.caller_name = value
    elif item == "num":
        state.caller_number = value
    else:
        state.caller_name, state.caller_number = parse_callerid(value)
    return True


def _local_read(state: ChannelState, args: str) -> str | None:
    """``LOCAL(var)``: the variable when it is local to the innermost Gosub, else empty."""
    if not state.local_frames:
        state.warn(f"Tried to read LOCAL({args}), but we aren't within a Gosub routine")
        return None
    return (state.variables.get(args) or "") if args in state.local_frames[-1] else ""


def _local_write(state: ChannelState, args: str, value: str) -> bool:
    """``Set(LOCAL(var)=value)``: a variable restored when the Gosub returns."""
    if state.set_local(args, value):
        return True
    state.warn(f"Tried to set LOCAL({args}), but we aren't within a Gosub routine")
    return False


BUILTIN_FUNCTIONS = (
    DialplanFunction("LEN", _len),
    DialplanFunction("IF", _if),
    DialplanFunction("ISNULL", _isnull),
    DialplanFunction("EXISTS", _exists),
    DialplanFunction("CUT", _cut),
    DialplanFunction("REGEX", _regex),
    DialplanFunction("STRFTIME", _strftime),
    DialplanFunction("GLOBAL", _global_read, _global_write),
    DialplanFunction("SET", _set),
    DialplanFunction("CALLERID", _callerid_read, _callerid_write),
    DialplanFunction("LOCAL", _local_read, _local_write),
)

FUNCTIONS = FunctionRegistry(BUILTIN_FUNCTIONS)
