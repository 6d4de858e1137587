"""A config folder on disk as a :class:`~switchboard.config.ini.ConfigSource`."""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path

from switchboard.config.ini import MissingFileError, SourceError


class DirectorySource:
    """Reads config files relative to one folder (absolute names are taken as they are)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else self.root / path

    def read(self, name: str, max_bytes: int) -> bytes:
        path = self._path(name)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise MissingFileError(f"{name} not found") from None
        except OSError as exc:
            raise SourceError(f"cannot read {name}: {exc.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"{name} is not a regular file")
        if info.st_size > max_bytes:
            raise SourceError(
                f"{name} is {info.st_size / 2**20:.1f} MiB, over the "
                f"{max_bytes / 2**20:g} MiB limit for a config file"
            )
        try:
            with path.open("rb") as handle:
                return handle.read(max_bytes + 1)
        except OSError as exc:
            raise SourceError(f"cannot read {name}: {exc.strerror}") from None

    def glob(self, pattern: str) -> list[str]:
        base = self._path(pattern)
        matches = sorted(glob.glob(str(base)))
        if Path(pattern).is_absolute():
            return matches
        return [os.path.relpath(m, self.root) for m in matches]

    def mode(self, name: str) -> int | None:
        try:
            return self._path(name).stat().st_mode
        except OSError:
            return None
