"""The pure media modules import no I/O, clock or entropy (ARCHITECTURE.md); relay.py and
portpool.py, the asyncio part, are not in the list."""

from __future__ import annotations

import ast
from pathlib import Path

import switchboard.media

FORBIDDEN = {"asyncio", "socket", "time", "random", "os", "pathlib", "glob", "subprocess", "ssl"}
PURE = ("errors", "rtp", "rtcp", "stats", "g711", "dtmf", "tones", "latch", "jitter")
PACKAGE = Path(switchboard.media.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_pure_modules_import_no_io() -> None:
    for name in PURE:
        path = PACKAGE / f"{name}.py"
        assert not imported_modules(path) & FORBIDDEN, path.name
