"""Argument splitting as Asterisk's ``ast_app_separate_args`` does it for apps and functions.

Delimiters inside ``(...)``, ``[...]`` or double quotes do not split; a backslash protects
the next character. The standard form (``remove_chars``) also drops the quotes and the
backslashes; the raw form keeps them. With a ``limit``, the last argument is the unsplit
rest. A trailing delimiter adds no empty argument and empty text gives no argument at all.
"""

from __future__ import annotations

_SPECIAL = frozenset('[]()"\\')


def separate_args(
    text: str, delim: str = ",", *, remove_chars: bool = True, limit: int = 0
) -> list[str]:
    """Split ``text`` as ``AST_STANDARD_APP_ARGS`` (or the raw/nonstandard variants) does."""
    if _SPECIAL.isdisjoint(text):
        if not text:
            return []
        parts = text.split(delim, limit - 1) if limit > 0 else text.split(delim)
        if not parts[-1]:
            parts.pop()
        return parts
    args: list[str] = []
    n = len(text)
    i = 0
    paren = bracket = 0
    quote = False
    while i < n and (limit <= 0 or len(args) < limit - 1):
        current: list[str] = []
        while i < n:
            c = text[i]
            if c == "[":
                bracket += 1
            elif c == "]":
                bracket = max(0, bracket - 1)
            elif c == "(":
                paren += 1
            elif c == ")":
                paren = max(0, paren - 1)
            elif c == '"' and delim != '"':
                quote = not quote
                if remove_chars:
                    i += 1
                    continue
            elif c == "\\":
                if remove_chars:
                    i += 1
                    if i < n:
                        current.append(text[i])
                        i += 1
                    continue
                current.append(c)
                i += 1
                if i < n:
                    current.append(text[i])
                    i += 1
                continue
            elif c == delim and not paren and not quote and not bracket:
                i += 1
                break
            current.append(c)
            i += 1
        args.append("".join(current))
    if i < n:
        args.append(text[i:])
    return args
