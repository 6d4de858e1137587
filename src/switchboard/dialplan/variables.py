"""Variable substitution in dialplan text (Asterisk's ``main/pbx_variables.c``).

``${NAME}``, ``${NAME:offset:length}`` (negative offset counts from the end, negative
length leaves that many off the end), ``${FUNC(args)}``, ``$[expression]``, all nestable:
the inside of a reference is substituted first, so ``${A${B}}`` reads the variable whose
name ends with B's value. Values are inserted as they are, never substituted again. Names
are case-sensitive; the built-ins ``EXTEN``, ``CONTEXT``, ``PRIORITY``, ``CHANNEL``,
``UNIQUEID``, ``HANGUPCAUSE`` and ``EPOCH`` win over channel variables, which win over
globals. Nothing here raises; problems become warnings on the channel.
"""

from __future__ import annotations

import re
from typing import Any

from switchboard.dialplan.expressions import evaluate
from switchboard.dialplan.state import ChannelState

INT_MAX = 2_147_483_647
_MAX_DEPTH = 64
_OFFSET_LENGTH = re.compile(r"[ \t\n\r\f\v]*([+-]?\d+)(?::[ \t\n\r\f\v]*([+-]?\d+))?")


def _c_int(text: str) -> int:
    """An int as C's ``%d`` would store it, clamped to 32 bits."""
    return max(-INT_MAX - 1, min(INT_MAX, int(text)))


def parse_variable_name(text: str) -> tuple[str, int, int, bool, bool]:
    """(name, offset, length, has_offset, is_function) of ``NAME:offset:length``; the first
    ``:`` outside parentheses starts the offset (``parse_variable_name``)."""
    parens = 0
    is_function = False
    for i, c in enumerate(text):
        if c == "(":
            is_function = True
            parens += 1
        elif c == ")":
            parens -= 1
        elif c == ":" and parens == 0:
            match = _OFFSET_LENGTH.match(text, i + 1)
            offset, length = 0, INT_MAX
            if match is not None:
                offset = _c_int(match.group(1))
                if match.group(2) is not None:
                    length = _c_int(match.group(2))
            return text[:i], offset, length, True, is_function
    return text, 0, INT_MAX, False, is_function


def substring(value: str, offset: int, length: int) -> str:
    """``${VAR:offset:length}`` applied to a value (``ast_str_substring``)."""
    size = len(value)
    if offset == 0 and length >= size:
        return value
    if offset < 0:
        offset = max(size + offset, 0)
    if offset >= size:
        return ""
    value = value[offset:]
    size -= offset
    if 0 <= length < size:
        return value[:length]
    if length < 0:
        return value[: size + length] if size > -length else ""
    return value


def retrieve_variable(state: ChannelState, name: str) -> str | None:
    """A built-in, channel or global variable; None if unset (``ast_str_retrieve_variable``)."""
    if name == "EXTEN":
        return state.exten
    if name == "CONTEXT":
        return state.context
    if name == "PRIORITY":
        return str(state.priority)
    if name == "CHANNEL":
        return state.channel
    if name == "UNIQUEID":
        return state.uniqueid
    if name == "HANGUPCAUSE":
        return str(state.hangupcause)
    if name == "EPOCH":
        return str(int(state.clock()))
    return state.get(name)


def _reference_end(text: str, start: int, opener: str) -> tuple[int, bool, bool]:
    """(end, closed, needs_substitution) of the ``${``/``$[`` reference whose body starts
    at ``start``; ``end`` is just past the closing brace or bracket."""
    closer, other = ("}", "[") if opener == "{" else ("]", "{")
    n = len(text)
    depth = 1
    needsub = False
    i = start
    while depth and i < n:
        c = text[i]
        if c == "$" and i + 1 < n and text[i + 1] == opener:
            needsub = True
            depth += 1
            i += 1
        elif c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
        elif c == "$" and i + 1 < n and text[i + 1] == other:
            needsub = True
            i += 1
        i += 1
    return i, depth == 0, needsub


# A compiled text: literal strings and references, so that the steps of a dialplan, whose
# argument texts never change, are scanned once rather than at every execution.
_Part = str | tuple[Any, ...]
_STATIC_VAR, _STATIC_FUNCTION, _STATIC_EXPR, _DYNAMIC, _WARNING = range(5)
_TEMPLATES: dict[str, tuple[_Part, ...]] = {}
_TEMPLATE_CACHE_SIZE = 8192


def substitute(state: ChannelState, text: str) -> str:
    """``text`` with every ``${...}`` and ``$[...]`` replaced (``pbx_substitute_variables``)."""
    if "$" not in text:
        return text
    template = _TEMPLATES.get(text)
    if template is None:
        template = compile_template(text)
        if len(_TEMPLATES) >= _TEMPLATE_CACHE_SIZE:
            _TEMPLATES.clear()
        _TEMPLATES[text] = template
    return _render(state, template)


def compile_template(text: str, depth: int = 0) -> tuple[_Part, ...]:
    """Split ``text`` into literals and references, as the substitution loop scans it."""
    if depth > _MAX_DEPTH:
        return ((_WARNING, f"variable references nested deeper than {_MAX_DEPTH} levels"),)
    parts: list[_Part] = []
    i = 0
    n = len(text)
    while i < n:
        j = text.find("$", i)
        if j == -1:
            parts.append(text[i:])
            break
        kind = text[j + 1 : j + 2]
        if kind not in {"{", "["}:
            parts.append(text[i : j + 1])
            i = j + 1
            continue
        if j > i:
            parts.append(text[i:j])
        end, closed, needsub = _reference_end(text, j + 2, kind)
        if closed:
            inner = text[j + 2 : end - 1]
        else:
            missing = "}" if kind == "{" else "]"
            parts.append((_WARNING, f"Error in extension logic (missing '{missing}')"))
            inner = text[j + 2 : end]
        i = end
        if needsub:
            parts.append((_DYNAMIC, kind, compile_template(inner, depth + 1)))
        elif kind == "[":
            parts.append((_STATIC_EXPR, inner))
        else:
            name, offset, length, has_offset, is_function = parse_variable_name(inner)
            code = _STATIC_FUNCTION if is_function else _STATIC_VAR
            parts.append((code, name, offset, length, has_offset))
    return tuple(parts)


def _render(state: ChannelState, template: tuple[_Part, ...]) -> str:
    """Substitute a compiled text for the channel."""
    out: list[str] = []
    for part in template:
        if isinstance(part, str):
            out.append(part)
            continue
        code = part[0]
        if code in (_STATIC_VAR, _STATIC_FUNCTION):
            _, name, offset, length, has_offset = part
            if code == _STATIC_VAR:
                value = retrieve_variable(state, name)
            else:
                value = state.functions.read(state, name)
            if value is not None:
                out.append(substring(value, offset, length) if has_offset else value)
        elif code == _STATIC_EXPR:
            out.append(_evaluate(state, part[1]))
        elif code == _DYNAMIC:
            inner = _render(state, part[2])
            out.append(_expand(state, inner) if part[1] == "{" else _evaluate(state, inner))
        else:
            state.warn(part[1])
    return "".join(out)


def _evaluate(state: ChannelState, expression: str) -> str:
    """``$[expression]`` for the channel, its functions callable from it."""
    return evaluate(expression, state.warn, lambda f, a: state.functions.read(state, f"{f}({a})"))


def _expand(state: ChannelState, reference: str) -> str:
    """The value of one ``${...}`` body (already substituted inside)."""
    name, offset, length, has_offset, is_function = parse_variable_name(reference)
    value = state.functions.read(state, name) if is_function else retrieve_variable(state, name)
    if value is None:
        return ""
    return substring(value, offset, length) if has_offset else value
