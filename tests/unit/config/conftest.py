"""A config source backed by a dict, so reader tests need no files."""

from __future__ import annotations

import fnmatch

import pytest

from switchboard.config.ini import ConfigSource, MissingFileError, SourceError
from switchboard.diagnostics import Diagnostics


class DictSource:
    """Config files held in memory: name -> text (or bytes); modes for permission checks."""

    def __init__(self, files: dict[str, str | bytes], modes: dict[str, int] | None = None):
        self.files = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
        self.modes = modes or {}

    def read(self, name: str, max_bytes: int) -> bytes:
        if name not in self.files:
            raise MissingFileError(f"{name} not found")
        data = self.files[name]
        if len(data) > max_bytes:
            raise SourceError(f"{name} is too large")
        return data

    def glob(self, pattern: str) -> list[str]:
        return sorted(n for n in self.files if fnmatch.fnmatch(n, pattern))

    def mode(self, name: str) -> int | None:
        if name in self.modes:
            return self.modes[name]
        return 0o100600 if name in self.files else None


def lines(diags: Diagnostics) -> list[str]:
    return [d.format() for d in diags.sorted()]


@pytest.fixture
def source_type() -> type[ConfigSource]:
    return DictSource
