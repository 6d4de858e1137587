"""Turning a config section into a typed object, option by option, with file:line diagnostics.

Each object kind has a table from Asterisk option name to a converter. Options Asterisk knows
but Switchboard does not act on are kept and reported once as unsupported; options nobody
knows are kept and reported with a did-you-mean, since they are usually typos.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from switchboard.config.ini import ConfigFile, Item, Section
from switchboard.diagnostics import Diagnostics, Location, did_you_mean

Converter = Callable[[str], object]
Accumulator = Callable[[object, str, str], object]
"""(current value, option name, option text) -> new value, for options read in order."""


@dataclass(slots=True)
class ConfigObject:
    """What every configured object has: its name, where it was defined, and its raw options."""

    name: str
    location: Location
    options: dict[str, Item] = field(default_factory=dict)

    def where(self, option: str) -> Location:
        """The line that set ``option``, or the section header if it was left at its default."""
        item = self.options.get(option)
        return item.location if item is not None else self.location


_T = TypeVar("_T", bound=ConfigObject)


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """How to build one kind of object from a section."""

    kind: str
    factory: Callable[[str, Location], ConfigObject]
    converters: Mapping[str, Converter]
    accumulators: Mapping[str, tuple[str, Accumulator]] = field(default_factory=dict)
    asterisk_options: frozenset[str] = frozenset()
    attribute_names: Mapping[str, str] = field(default_factory=dict)


class ObjectBuilder:
    """Builds objects from sections, reporting each unknown option line only once."""

    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self._reported: set[tuple[Location, str]] = set()

    def build(self, section: Section, spec: ObjectSpec, skip: frozenset[str]) -> ConfigObject:
        obj = spec.factory(section.name, section.location)
        for item in section.items:
            key = item.key
            if key in skip:
                continue
            obj.options[key] = item
            accumulated = spec.accumulators.get(key)
            if accumulated is not None:
                attr, accumulate = accumulated
                try:
                    setattr(obj, attr, accumulate(getattr(obj, attr), key, item.value))
                except ValueError as exc:
                    self._bad_value(spec, section, item, exc)
                continue
            convert = spec.converters.get(key)
            if convert is None:
                self._unknown(spec, section, item)
                continue
            try:
                value = convert(item.value)
            except ValueError as exc:
                self._bad_value(spec, section, item, exc)
                continue
            setattr(obj, spec.attribute_names.get(key, key), value)
        return obj

    def _bad_value(self, spec: ObjectSpec, section: Section, item: Item, exc: ValueError) -> None:
        self.diags.error(item.location, f"{spec.kind} '{section.name}': {item.key}: {exc}")

    def _unknown(self, spec: ObjectSpec, section: Section, item: Item) -> None:
        marker = (item.location, spec.kind)
        if marker in self._reported:
            return
        self._reported.add(marker)
        if item.key in spec.asterisk_options:
            self.diags.warning(
                item.location,
                f"{spec.kind} option '{item.key}' is not supported by Switchboard yet; ignored",
            )
            return
        known = [*spec.converters, *spec.accumulators, *spec.asterisk_options]
        self.diags.warning(
            item.location,
            f"unknown {spec.kind} option '{item.key}'; ignored",
            did_you_mean(item.key, known),
        )


def load_single_section(
    conf: ConfigFile,
    name: str,
    spec: ObjectSpec,
    default: _T,
    diags: Diagnostics,
    *,
    ignored: tuple[str, ...] = (),
) -> _T:
    """Files with one section of settings (rtp.conf's [general], switchboard.conf's
    [security]): that section built, else ``default``; any other section is reported."""
    result = default
    builder = ObjectBuilder(diags)
    for section in conf.sections:
        if section.name == name:
            built = builder.build(section, spec, frozenset())
            assert isinstance(built, type(default))
            result = built
        elif section.name not in ignored:
            diags.warning(
                section.location,
                f"{conf.name} section [{section.name}] is not supported; ignored",
                did_you_mean(section.name, [name, *ignored]),
            )
    return result
