"""The dialplan as data: contexts of extensions, each a numbered list of application steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from switchboard.diagnostics import Location
from switchboard.dialplan.patterns import Pattern, PatternError, compile_pattern


@dataclass(frozen=True, slots=True)
class Step:
    """One priority: ``exten => 101,1(start),Dial(PJSIP/alice,10)``."""

    priority: int
    label: str | None
    app: str
    args: str
    location: Location


@dataclass(slots=True)
class Extension:
    """All priorities of one extension (and caller-ID match) in one context."""

    pattern: Pattern
    location: Location
    callerid: str | None = None
    steps: dict[int, Step] = field(default_factory=dict)
    hint: str | None = None

    @property
    def name(self) -> str:
        """The extension as written (``_1XX``, ``101``)."""
        return self.pattern.text

    def ordered_steps(self) -> list[Step]:
        """The steps by priority."""
        return [self.steps[p] for p in sorted(self.steps)]

    def label(self, name: str) -> Step | None:
        """The step carrying ``name`` as its label, or None."""
        return next((s for s in self.steps.values() if s.label == name), None)


@dataclass(frozen=True, slots=True)
class Include:
    """``include => other-context`` (a time condition is kept as text)."""

    context: str
    condition: str
    location: Location


@dataclass(slots=True)
class Context:
    """A ``[context]`` of extensions; literal extensions are looked up first, then patterns."""

    name: str
    location: Location
    extensions: dict[tuple[str, str | None], Extension] = field(default_factory=dict)
    includes: list[Include] = field(default_factory=list)
    ignorepats: list[tuple[str, Location]] = field(default_factory=list)
    switches: list[tuple[str, Location]] = field(default_factory=list)
    _literal: dict[str, Extension] = field(default_factory=dict)
    _patterns: list[Extension] = field(default_factory=list)
    _patterns_sorted: bool = True
    _by_callerid: list[tuple[Extension, Pattern | None]] = field(default_factory=list)

    def add(self, extension: Extension) -> None:
        """Index an extension: by caller ID, as a literal, or among the patterns."""
        self.extensions[(extension.name, extension.callerid)] = extension
        if extension.callerid is not None:
            try:
                cid: Pattern | None = compile_pattern(extension.callerid)
            except PatternError:
                cid = None  # never matches; the config reader reports the pattern
            self._by_callerid.append((extension, cid))
            self._by_callerid.sort(key=lambda pair: pair[0].pattern.sort_key)
            return
        if extension.pattern.is_pattern:
            self._patterns.append(extension)
            self._patterns_sorted = False
        else:
            self._literal.setdefault(extension.pattern.literal, extension)

    def find(self, number: str, caller: str | None = None) -> Extension | None:
        """The best match in this context alone, by Asterisk's order; an extension written
        ``number/callerid`` comes first when ``caller`` matches its caller-ID pattern."""
        if caller and self._by_callerid:
            for extension, cid in self._by_callerid:
                if cid is not None and extension.pattern.matches(number) and cid.matches(caller):
                    return extension
        found = self._literal.get(number.replace("-", ""))
        if found is not None:
            return found
        if not self._patterns_sorted:
            self._patterns.sort(key=lambda e: e.pattern.sort_key)
            self._patterns_sorted = True
        for extension in self._patterns:
            if extension.pattern.matches(number):
                return extension
        return None


@dataclass(slots=True)
class Dialplan:
    """Every context, plus ``[globals]`` variables."""

    contexts: dict[str, Context] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)

    def find(
        self,
        context: str,
        number: str,
        include_ok: Callable[[Include], bool] | None = None,
        caller: str | None = None,
    ) -> tuple[Context, Extension] | None:
        """Look ``number`` up in ``context`` and, depth first, in the contexts it includes
        (only those ``include_ok`` accepts, when given: time conditions are its business);
        ``caller`` is the caller's number, for extensions that match on it."""
        seen: set[str] = set()
        pending = [context]
        while pending:
            name = pending.pop(0)
            if name in seen or name not in self.contexts:
                continue
            seen.add(name)
            ctx = self.contexts[name]
            extension = ctx.find(number, caller)
            if extension is not None:
                return ctx, extension
            pending[0:0] = [
                inc.context for inc in ctx.includes if include_ok is None or include_ok(inc)
            ]
        return None
