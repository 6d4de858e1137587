"""Checks shared by the constructor tests of sip/ and sdp/: a frozen dataclass with a
hand-written ``__init__`` (which mypyc compiles; the generated one stays interpreted) sets
every field in the dataclass's order, keeps its defaults, and stays frozen and hashable."""

from __future__ import annotations

import dataclasses
from dataclasses import FrozenInstanceError, fields, replace
from typing import Any

import pytest


def init_fields(cls: type[Any]) -> list[dataclasses.Field[Any]]:
    """The fields a dataclass's ``__init__`` takes, in order."""
    return [f for f in fields(cls) if f.init]


def check_every_field_by_keyword_and_position(cls: type[Any], values: dict[str, Any]) -> None:
    """``values`` names every init field in order; both call forms set each of them."""
    assert list(values) == [f.name for f in init_fields(cls)]
    made = cls(**values)
    assert {name: getattr(made, name) for name in values} == values
    assert cls(*values.values()) == made
    assert replace(made) == made and replace(made) is not made


def check_defaults(cls: type[Any], values: dict[str, Any]) -> None:
    """Fields left out take the dataclass's declared defaults."""
    required = {
        f.name: values[f.name] for f in init_fields(cls) if f.default is dataclasses.MISSING
    }
    made = cls(**required)
    for f in init_fields(cls):
        if f.default is not dataclasses.MISSING:
            assert getattr(made, f.name) == f.default, f.name


def check_frozen(cls: type[Any], values: dict[str, Any], *, hashable: bool = True) -> None:
    """Setting a field raises, and equal objects hash alike (when their fields hash)."""
    made = cls(**values)
    name, value = next(iter(values.items()))
    with pytest.raises(FrozenInstanceError):
        setattr(made, name, value)
    if hashable:
        assert hash(made) == hash(cls(**values))


def check_constructor(cls: type[Any], values: dict[str, Any], *, hashable: bool = True) -> None:
    """All of the above for one class: ``values`` gives every init field, in order."""
    check_every_field_by_keyword_and_position(cls, values)
    check_defaults(cls, values)
    check_frozen(cls, values, hashable=hashable)
