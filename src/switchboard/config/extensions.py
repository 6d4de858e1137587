"""extensions.conf into a :class:`~switchboard.dialplan.model.Dialplan`.

Understands ``exten => pattern[/callerid],priority[(label)],App(args)``, ``same =>``, the
priorities ``n``, ``s``, ``hint`` and ``label+N``, ``include =>``, ``[globals]`` and
``[general]``; ``switch``/``ignorepat`` are kept and reported as unsupported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from switchboard.config.catalog import (
    DIALPLAN_APPLICATIONS,
    EXTENSIONS_CONTEXT_KEYWORDS,
    EXTENSIONS_GENERAL_OPTIONS,
    LEGACY_DIALPLAN_APPLICATIONS,
)
from switchboard.config.ini import ConfigFile, Item
from switchboard.diagnostics import Diagnostics, did_you_mean
from switchboard.dialplan.model import Context, Dialplan, Extension, Include, Step
from switchboard.dialplan.patterns import PatternError, compile_pattern
from switchboard.dialplan.timing import build_timing

_PRIORITY = re.compile(
    r"(?P<prio>[^()+-]+?)\s*(?:(?P<sign>[+-])\s*(?P<offset>\d+))?\s*"
    r"(?:\((?P<label>[^()]*)\))?\s*"
)
_APPS_LOWER = {name.lower(): name for name in DIALPLAN_APPLICATIONS}
_LEGACY_LOWER = {name.lower(): name for name in LEGACY_DIALPLAN_APPLICATIONS}


@dataclass(slots=True)
class ExtensionsConfig:
    """The dialplan plus the ``[general]`` options it was read with."""

    dialplan: Dialplan = field(default_factory=Dialplan)
    general: dict[str, Item] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Application:
    """``Dial(PJSIP/alice,10)`` split into name and argument text."""

    name: str
    args: str


def split_application(text: str) -> Application:
    """Split ``App(args)`` (or the old ``App,args``); ValueError if there is no name."""
    text = text.strip()
    paren = text.find("(")
    comma = text.find(",")
    if paren != -1 and (comma == -1 or paren < comma):
        name, args = text[:paren].strip(), text[paren + 1 :]
        close = args.rfind(")")
        if close == -1:
            raise ValueError(f"{text!r}: '(' is never closed")
        args = args[:close]
    elif comma != -1:
        name, args = text[:comma].strip(), text[comma + 1 :]
    else:
        name, args = text, ""
    if not name:
        raise ValueError(f"no application in {text!r}")
    return Application(name, args)


def _split_exten(value: str) -> tuple[str, str, str] | None:
    """(extension, priority, application) of an exten value; commas inside [...] are kept
    (an unclosed '[' falls back to a plain split, so the pattern error is the one reported)."""
    depth = 0
    for i, c in enumerate(value):
        if c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            priority, sep, app = value[i + 1 :].partition(",")
            if not sep:
                return None
            return value[:i].strip(), priority.strip(), app.strip()
    if depth:
        exten, sep, rest = value.partition(",")
        priority, sep2, app = rest.partition(",")
        if sep and sep2:
            return exten.strip(), priority.strip(), app.strip()
    return None


class _ContextLoader:
    """Reads the statements of one context, tracking the extension ``same =>`` refers to."""

    def __init__(self, context: Context, diags: Diagnostics) -> None:
        self.context = context
        self.diags = diags
        self.last: Extension | None = None
        self.last_priority: dict[tuple[str, str | None], int] = {}

    def statement(self, item: Item) -> None:
        key = item.key.lower()
        if key == "exten":
            parts = _split_exten(item.value)
            if parts is None:
                self.diags.error(
                    item.location,
                    f"exten needs 'extension,priority,Application(args)', found {item.value!r}",
                )
                return
            self._step(item, *parts)
        elif key == "same":
            if self.last is None:
                self.diags.error(
                    item.location,
                    "'same =>' has no extension above it in this context",
                    "start with 'exten => NUMBER,1,App()'",
                )
                return
            priority, sep, app = item.value.partition(",")
            if not sep:
                self.diags.error(
                    item.location, f"same needs 'priority,Application(args)', found {item.value!r}"
                )
                return
            self._step(item, self.last.name, priority.strip(), app.strip(), self.last)
        elif key == "include":
            name, _, condition = item.value.partition(",")
            self.context.includes.append(Include(name.strip(), condition.strip(), item.location))
            if condition.strip():
                build_timing(
                    condition.strip(),
                    lambda problem: self.diags.warning(
                        item.location, f"include => {name.strip()}: {problem}"
                    ),
                )
        elif key in ("ignorepat", "switch", "eswitch", "lswitch", "autohints"):
            target = self.context.ignorepats if key == "ignorepat" else self.context.switches
            target.append((item.value, item.location))
            self.diags.warning(
                item.location, f"'{key} =>' is not supported by Switchboard; ignored"
            )
        else:
            self.diags.error(
                item.location,
                f"unknown statement '{item.key}' in context [{self.context.name}]",
                did_you_mean(key, EXTENSIONS_CONTEXT_KEYWORDS)
                or "expected exten =>, same => or include =>",
            )

    def _step(
        self, item: Item, exten: str, priority: str, app_text: str, same: Extension | None = None
    ) -> None:
        name, _, callerid = exten.partition("/")
        cid = callerid.strip() or None
        if same is None:
            extension = self._extension(item, name.strip(), cid)
            if extension is None:
                return
        else:
            extension = same
        self.last = extension
        if priority.lower() == "hint":
            extension.hint = app_text
            return
        number, label = self._priority(item, extension, priority)
        if number is None:
            return
        try:
            app = split_application(app_text)
        except ValueError as exc:
            self.diags.error(item.location, str(exc))
            return
        self._check_app(item, app.name)
        step = Step(number, label, app.name, app.args, item.location)
        earlier = extension.steps.get(number)
        if earlier is not None:
            self.diags.warning(
                item.location,
                f"extension {extension.name} in [{self.context.name}] already has priority "
                f"{number} (at {earlier.location}); this line is ignored, as Asterisk does",
                "use 'n' for the next priority",
            )
            return
        extension.steps[number] = step
        self.last_priority[(extension.name, extension.callerid)] = number

    def _extension(self, item: Item, name: str, cid: str | None) -> Extension | None:
        key = (name, cid)
        found = self.context.extensions.get(key)
        if found is not None:
            return found
        try:
            pattern = compile_pattern(name)
        except PatternError as exc:
            self.diags.error(item.location, str(exc))
            return None
        if pattern.unreachable_tail:
            self.diags.warning(
                item.location,
                f"pattern {name!r}: characters after the wildcard are never matched",
                "'.' and '!' match the rest of the number; put them last",
            )
        extension = Extension(pattern, item.location, cid)
        self.context.add(extension)
        return extension

    def _priority(
        self, item: Item, extension: Extension, text: str
    ) -> tuple[int | None, str | None]:
        """Resolve ``1``, ``n``, ``s``, ``hint``-free forms, ``label+N``, ``n+N``, ``(label)``."""
        match = _PRIORITY.fullmatch(text)
        if match is None:
            self.diags.error(item.location, f"bad priority {text!r}", "use 1, n or n(label)")
            return None, None
        prio, label = match.group("prio").strip(), match.group("label")
        offset = int(match.group("offset") or 0) * (-1 if match.group("sign") == "-" else 1)
        previous = self.last_priority.get((extension.name, extension.callerid))
        lowered = prio.lower()
        if prio.isdigit():
            base = int(prio)
        elif lowered in ("n", "next", "s", "same"):
            if previous is None:
                self.diags.error(
                    item.location,
                    f"priority '{prio}' on the first line of extension {extension.name}",
                    "the first priority of an extension is 1",
                )
                return None, None
            base = previous + 1 if lowered in ("n", "next") else previous
        else:
            step = extension.label(prio)
            if step is None:
                self.diags.error(
                    item.location,
                    f"priority {text!r} refers to label '{prio}', which extension "
                    f"{extension.name} does not have above",
                    "use 1, n or n(label)",
                )
                return None, None
            base = step.priority
        number = base + offset
        if number < 1:
            self.diags.error(item.location, f"priority {text!r} is {number}; priorities start at 1")
            return None, None
        return number, label

    def _check_app(self, item: Item, name: str) -> None:
        legacy = _LEGACY_LOWER.get(name.lower())
        if legacy is not None:
            self.diags.warning(
                item.location, f"application '{legacy}' no longer exists in Asterisk 21"
            )
        elif name.lower() not in _APPS_LOWER:
            self.diags.warning(
                item.location,
                f"unknown application '{name}'",
                did_you_mean(name, DIALPLAN_APPLICATIONS),
            )


def load_extensions(conf: ConfigFile, diags: Diagnostics) -> ExtensionsConfig:
    """Build the dialplan; problems become diagnostics."""
    result = ExtensionsConfig()
    dialplan = result.dialplan
    loaders: dict[str, _ContextLoader] = {}
    for section in conf.sections:
        if section.template:
            continue
        if section.name == "general":
            for item in section.items:
                result.general[item.key] = item
                if item.key not in EXTENSIONS_GENERAL_OPTIONS:
                    diags.warning(
                        item.location,
                        f"unknown extensions.conf [general] option '{item.key}'; ignored",
                        did_you_mean(item.key, EXTENSIONS_GENERAL_OPTIONS),
                    )
            continue
        if section.name == "globals":
            for item in section.items:
                dialplan.globals[item.key] = item.value
            continue
        loader = loaders.get(section.name)
        if loader is None:
            context = Context(section.name, section.location)
            dialplan.contexts[section.name] = context
            loader = loaders[section.name] = _ContextLoader(context, diags)
        for item in section.items:
            loader.statement(item)
    for context in dialplan.contexts.values():
        for include in context.includes:
            if include.context not in dialplan.contexts:
                diags.warning(
                    include.location,
                    f"include => {include.context}: no such context; the include is skipped",
                    did_you_mean(include.context, dialplan.contexts),
                )
    return result
