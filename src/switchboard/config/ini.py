"""Reader for Asterisk's configuration dialect (the format of pjsip.conf, extensions.conf, ...).

Sans-I/O: files come from an injected :class:`ConfigSource`; nothing here touches the disk.

Syntax handled, as Asterisk's ``main/config.c`` reads it::

    [section]                 a new section (the same name may appear many times)
    [name](!)                 a template: never an object itself
    [name](tpl1,tpl2)         inherit the options of earlier sections, in order, then add own
    [name](!,tpl)             a template inheriting from another
    [name](+)                 add options to the first section of that name
    [name](+type=aor)         ... to the first one whose option ``type`` is ``aor``
    key = value   key => value   key += more   (appends to the value set above)
    ; comment    \\;  (a literal semicolon)    ;-- block comment, may span lines and nest --;
    #include file   #include "file"   #tryinclude file   (relative to the config dir, globs ok)
    #exec ...                 refused: a config file never runs anything here

Every section and option remembers its ``file:line``. Problems never raise: they are
recorded as diagnostics and the rest of the file is still read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from switchboard.diagnostics import Diagnostics, Location, did_you_mean

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
"""A config file larger than this is refused: real ones are far smaller, and it bounds memory."""

MAX_INCLUDE_DEPTH = 16
_CONTROL = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D}
_GLOB_CHARS = frozenset("*?[")


class SourceError(Exception):
    """A file could not be read; the message says why, in words an admin understands."""


class MissingFileError(SourceError):
    """The named file does not exist."""


class ConfigSource(Protocol):
    """Where config files come from: a directory on disk, or a dict in tests."""

    def read(self, name: str, max_bytes: int) -> bytes:
        """The file's bytes; MissingFileError if absent, SourceError if unreadable or too large."""
        ...

    def glob(self, pattern: str) -> list[str]:
        """Names matching a shell pattern, sorted."""
        ...

    def mode(self, name: str) -> int | None:
        """Permission bits of a file, or None if it does not exist."""
        ...


class Item(NamedTuple):
    """One ``key = value`` (or ``key => value``) line; a tuple, as there are many."""

    key: str
    value: str
    location: Location


@dataclass(slots=True)
class Section:
    """A ``[name]`` block with its options, inherited ones first."""

    name: str
    location: Location
    items: list[Item] = field(default_factory=list)
    template: bool = False
    inherits: tuple[str, ...] = ()

    def get(self, key: str) -> Item | None:
        """The last item with this key (later lines override earlier ones)."""
        for item in reversed(self.items):
            if item.key == key:
                return item
        return None

    def value(self, key: str, default: str | None = None) -> str | None:
        item = self.get(key)
        return item.value if item is not None else default


@dataclass(slots=True)
class ConfigFile:
    """The sections of one top-level file, includes expanded in place."""

    name: str
    sections: list[Section] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def named(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name]

    def __iter__(self) -> Iterator[Section]:
        return iter(self.sections)


class BlockComment:
    """State of ``;-- --;`` comments across lines: nesting depth and where the outer one began."""

    __slots__ = ("depth", "opened_at")

    def __init__(self) -> None:
        self.depth = 0
        self.opened_at: Location | None = None


def strip_comments(line: str, block: BlockComment, where: Location) -> str:
    """The line without its comments; ``\\;`` becomes ``;``."""
    if block.depth == 0 and ";" not in line:
        return line
    out: list[str] = []
    i = 0
    n = len(line)
    while i < n:
        if block.depth:
            close = line.find("--;", i)
            reopen = line.find(";--", i)
            if reopen != -1 and (close == -1 or reopen < close):
                block.depth += 1
                i = reopen + 3
                continue
            if close == -1:
                break
            block.depth -= 1
            i = close + 3
            continue
        semi = line.find(";", i)
        if semi == -1:
            out.append(line[i:])
            break
        if semi > 0 and line[semi - 1] == "\\":
            out.append(line[i : semi - 1])
            out.append(";")
            i = semi + 1
            continue
        out.append(line[i:semi])
        if line.startswith(";--", semi):
            block.depth = 1
            block.opened_at = where
            i = semi + 3
            continue
        break
    return "".join(out)


def decode_text(data: bytes, name: str, diags: Diagnostics) -> str | None:
    """Text of a config file, or None (with an error) when it is binary."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    bad = next((i for i, b in enumerate(data) if b in _CONTROL), -1) if _has_control(data) else -1
    if bad != -1:
        line = data.count(b"\n", 0, bad) + 1
        diags.error(
            Location(name, line),
            f"not a text file: control byte 0x{data[bad]:02x} at line {line}",
            "config files are plain text; check that the right file is named",
        )
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        diags.warning(
            Location(name, line),
            "file is not valid UTF-8; read as Latin-1",
            "save the file as UTF-8",
        )
        return data.decode("latin-1")


def _has_control(data: bytes) -> bool:
    """Fast check for bytes that never occur in a text file."""
    return bool(data.translate(None, _TEXT_BYTES))


_TEXT_BYTES = bytes(b for b in range(256) if b not in _CONTROL)


class ConfigReader:
    """Reads top-level config files from a source, collecting diagnostics as it goes."""

    def __init__(
        self,
        source: ConfigSource,
        diags: Diagnostics | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.source = source
        self.diags = diags if diags is not None else Diagnostics()
        self.max_bytes = max_bytes
        self.failed: set[str] = set()
        """Top-level files that could not be read (missing, unreadable, binary)."""

    def read(self, name: str, *, required: bool = True) -> ConfigFile | None:
        """Parse ``name`` and everything it includes; None if it is missing and not required."""
        try:
            data = self.source.read(name, self.max_bytes)
        except MissingFileError:
            if required:
                self.failed.add(name)
                self.diags.error(
                    Location(name, 0), f"file {name} not found", "is --config-dir the right folder?"
                )
            return None
        except SourceError as exc:
            self.failed.add(name)
            self.diags.error(Location(name, 0), str(exc))
            return None
        result = ConfigFile(name)
        _FileParser(self, result).parse(name, data, stack=(name,))
        if name not in result.files:
            self.failed.add(name)
        return result


class _FileParser:
    """Turns the lines of one top-level file and its includes into sections."""

    def __init__(self, reader: ConfigReader, result: ConfigFile) -> None:
        self.reader = reader
        self.diags = reader.diags
        self.result = result
        self.current: Section | None = None
        self.first_by_name: dict[str, Section] = {}

    def parse(self, name: str, data: bytes, stack: tuple[str, ...]) -> None:
        text = decode_text(data, name, self.diags)
        if text is None:
            return
        self.result.files.append(name)
        block = BlockComment()
        lineno = 0
        for lineno, raw in enumerate(text.splitlines(), start=1):
            if block.depth == 0 and ";" not in raw:
                line = raw.strip()
            else:
                line = strip_comments(raw, block, Location(name, lineno)).strip()
            if not line:
                continue
            first = line[0]
            if first == "[":
                self._section(line, Location(name, lineno))
            elif first == "#":
                self._directive(line, Location(name, lineno), stack)
            else:
                self._option(line, Location(name, lineno))
        if block.depth:
            self.diags.error(
                block.opened_at or Location(name, lineno),
                "block comment ';--' is never closed",
                "end it with '--;'",
            )

    def _section(self, line: str, where: Location) -> None:
        close = line.find("]")
        if close == -1:
            self.diags.error(where, f"section header {line!r} has no closing ']'")
            self.current = None
            return
        name = line[1:close].strip()
        if not name:
            self.diags.error(where, "section header has an empty name")
            self.current = None
            return
        rest = line[close + 1 :].strip()
        options: list[str] = []
        if rest:
            if not (rest.startswith("(") and rest.endswith(")")):
                self.diags.error(
                    where,
                    f"unexpected text {rest!r} after section [{name}]",
                    "templates are written [name](template1,template2)",
                )
            else:
                options = [o.strip() for o in rest[1:-1].split(",") if o.strip()]
        additions = [o for o in options if o.startswith("+")]
        if additions:
            target = self._addition_target(name, additions[0][1:])
            if target is None:
                self.diags.error(
                    where,
                    f"[{name}](+) adds to section '{name}', which is not defined above",
                    did_you_mean(name, self.first_by_name),
                )
                self.current = None
                return
            self.current = target
            return
        section = Section(name, where)
        for option in options:
            if option == "!":
                section.template = True
                continue
            parent = self.first_by_name.get(option)
            if parent is None:
                self.diags.error(
                    where,
                    f"section [{name}] inherits from '{option}', which is not defined above",
                    did_you_mean(option, self.first_by_name)
                    or "a template must come before the sections that use it",
                )
                continue
            section.items.extend(parent.items)
        section.inherits = tuple(o for o in options if o != "!")
        self.result.sections.append(section)
        self.first_by_name.setdefault(name, section)
        self.current = section

    def _addition_target(self, name: str, condition: str) -> Section | None:
        """The section ``[name](+)`` adds to: the first of that name, or the first matching
        ``key=value`` in ``[name](+key=value)``."""
        key, _, value = condition.partition("=")
        for section in self.result.sections:
            if section.name != name:
                continue
            if not key or section.value(key.strip()) == value.strip():
                return section
        return None

    def _option(self, line: str, where: Location) -> None:
        eq = line.find("=")
        if eq == -1:
            self.diags.error(
                where, f"expected 'option = value', found {line!r}", "is a '=' or '=>' missing?"
            )
            return
        key = line[:eq].strip()
        value = line[eq + 1 :]
        if value.startswith(">"):
            value = value[1:]
        value = value.strip()
        if not key:
            self.diags.error(where, f"option with no name in {line!r}")
            return
        if self.current is None:
            self.diags.error(
                where,
                f"option '{key}' is outside any section",
                "add a [section] header above it",
            )
            return
        if key.endswith("+"):
            key = key[:-1].rstrip()
            earlier = self.current.get(key)
            if earlier is not None:
                value = earlier.value + value
        self.current.items.append(Item(key, value, where))

    def _directive(self, line: str, where: Location, stack: tuple[str, ...]) -> None:
        word, _, arg = line[1:].partition(" ")
        word = word.strip().lower()
        arg = arg.strip().strip('"').strip("<>").strip()
        if word in ("exec", "tryexec"):
            self.diags.error(
                where,
                f"#{word} is refused: Switchboard never runs programs from config files",
                "generate the file beforehand and #include it",
            )
            return
        if word not in ("include", "tryinclude"):
            self.diags.error(
                where,
                f"unknown directive '#{word}'",
                did_you_mean(word, ["include", "tryinclude"]) or "comments start with ';'",
            )
            return
        if not arg:
            self.diags.error(where, f"#{word} names no file")
            return
        if arg.startswith("./"):
            arg = arg[2:]
        names = self.reader.source.glob(arg) if _GLOB_CHARS.intersection(arg) else [arg]
        if not names and word == "include":
            self.diags.warning(where, f"#include {arg} matches no file")
        for name in names:
            self._include(name, word == "tryinclude", where, stack)

    def _include(self, name: str, optional: bool, where: Location, stack: tuple[str, ...]) -> None:
        if name in stack:
            chain = " -> ".join((*stack, name))
            self.diags.error(where, f"include cycle: {chain}", "remove one of these #include lines")
            return
        if len(stack) >= MAX_INCLUDE_DEPTH:
            self.diags.error(where, f"includes nested deeper than {MAX_INCLUDE_DEPTH} levels")
            return
        try:
            data = self.reader.source.read(name, self.reader.max_bytes)
        except MissingFileError:
            if not optional:
                self.diags.error(
                    where,
                    f"#include {name}: file not found",
                    "use #tryinclude for a file that may be absent",
                )
            return
        except SourceError as exc:
            self.diags.error(where, f"#include {name}: {exc}")
            return
        self.parse(name, data, (*stack, name))
