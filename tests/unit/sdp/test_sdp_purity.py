"""The SDP layer is sans-I/O: its modules import no I/O, clock or entropy (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import switchboard.sdp

FORBIDDEN = {"asyncio", "socket", "time", "random", "os", "pathlib", "glob", "subprocess", "ssl"}
PACKAGE = Path(switchboard.sdp.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_no_io_imports() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 5
    for path in modules:
        assert not imported_modules(path) & FORBIDDEN, path.name
